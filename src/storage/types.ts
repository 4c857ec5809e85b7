/** Rows as the stores hand them to services (booleans already converted). */
export interface UserRow {
  id: number;
  name: string;
  nickname: string;
  email: string;
  description: string;
  icon: string;
  public: boolean;
  role: string;
  password: string;
  password_salt: string;
  password_scheme: string;
}

export interface DeviceRow {
  id: number;
  user_id: number;
  name: string;
  nickname: string;
  description: string;
  icon: string;
  apikey: string;
  enabled: boolean;
  public: boolean;
  role: string;
  visible: boolean;
  user_editable: boolean;
}

export interface StreamRow {
  id: number;
  device_id: number;
  name: string;
  nickname: string;
  description: string;
  icon: string;
  schema: string;
  datatype: string;
  ephemeral: boolean;
  downlink: boolean;
  /** Retention (beyond the original): keep at most this many datapoints; 0 or absent = no limit. */
  keep_datapoints?: number;
  /** Retention: keep only datapoints newer than this many seconds; 0 or absent = no limit. */
  keep_seconds?: number;
}

/** Substreams of a stream: its main data and its downlink (data-model §5). */
export const MAIN = 0;
export const DOWNLINK = 1;
export type Sub = typeof MAIN | typeof DOWNLINK;

export interface SubstreamInfo {
  length: number;
  last_t: number;
  bytes: number;
}

/** A datapoint ready for storage: its timestamp and its wire-form JSON text. */
export interface StoredPoint {
  t: number;
  j: string;
}

