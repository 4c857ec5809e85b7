import { existsSync, statSync } from 'node:fs';
import { ParseDetail } from '../errors';
import * as V from '../values';
import { type Def, arg, pure } from './util';

/** A resolved zone: offset lookup in milliseconds for an instant (UTC ms). */
interface Zone {
  offsetAt(ms: number): number;
}

const UTC_ZONE: Zone = { offsetAt: () => 0 };

class IntlZone implements Zone {
  private readonly fmt: Intl.DateTimeFormat;
  private readonly cache = new Map<number, number>();
  constructor(name: string) {
    this.fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  }
  offsetAt(ms: number): number {
    // Offsets change on (at least) quarter-hour boundaries since standard time was adopted.
    const bucket = Math.floor(ms / 900000);
    let off = this.cache.get(bucket);
    if (off === undefined) {
      off = this.compute(bucket * 900000);
      if (this.cache.size > 10000) this.cache.clear();
      this.cache.set(bucket, off);
    }
    return off;
  }
  private compute(ms: number): number {
    const parts = this.fmt.formatToParts(new Date(ms));
    const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
    let year = get('year');
    const era = parts.find((p) => p.type === 'era')?.value;
    if (era === 'BC' || era === 'B') year = 1 - year;
    const d = new Date(0);
    d.setUTCFullYear(year, get('month') - 1, get('day'));
    d.setUTCHours(get('hour'), get('minute'), get('second'), 0);
    return d.getTime() - Math.floor(ms / 1000) * 1000;
  }
}

const zoneCache = new Map<string, Zone>();
let tzNames: Set<string> | null = null;

function knownCase(name: string): boolean {
  // Go's LoadLocation matches names case-sensitively against the zoneinfo files; Intl is case-insensitive.
  tzNames ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (tzNames.has(name)) return true;
  for (const dir of [process.env.ZONEINFO, '/usr/share/zoneinfo', '/usr/share/lib/zoneinfo', '/usr/lib/locale/TZ']) {
    if (!dir) continue;
    try {
      const p = `${dir}/${name}`;
      if (existsSync(p) && statSync(p).isFile()) return true;
    } catch {
      // not readable: fall through
    }
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone === name;
  } catch {
    return false;
  }
}

function localZoneName(): string {
  const tz = process.env.TZ;
  if (tz !== undefined && tz !== '') return tz.startsWith(':') ? tz.slice(1) : tz;
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** time.LoadLocation (§11). Throws the parse detail on failure. */
export function loadZone(nameIn: string): Zone {
  let name = nameIn;
  if (name === 'Local') {
    name = localZoneName();
    if (name === 'UTC' || name === 'Etc/UTC' || name === '') return UTC_ZONE;
    try {
      return cachedZone(name);
    } catch {
      return UTC_ZONE; // Go falls back to UTC when the local zone cannot be loaded
    }
  }
  if (name === '' || name === 'UTC') return UTC_ZONE;
  if (name.includes('..') || name.startsWith('/') || name.startsWith('\\')) throw new ParseDetail('time: invalid location name');
  if (!knownCase(name)) throw new ParseDetail(`unknown time zone ${name}`);
  try {
    return cachedZone(name);
  } catch {
    throw new ParseDetail(`unknown time zone ${name}`);
  }
}

function cachedZone(name: string): Zone {
  let z = zoneCache.get(name);
  if (!z) {
    z = new IntlZone(name);
    zoneCache.set(name, z);
  }
  return z;
}

/** Go time.Date(y, m, d, 0, 0, 0, 0, loc) as Unix seconds. */
function localMidnight(zone: Zone, y: number, m: number, d: number): number {
  const wall = Date.UTC(y, m - 1, d);
  let off = zone.offsetAt(wall);
  const utc = wall - off;
  const off2 = zone.offsetAt(utc);
  if (off2 !== off) off = off2;
  return (wall - off) / 1000;
}

interface Fields {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  weekday: number; // 0 = Sunday
  yday: number; // 1-366
}

const fields: Fields = { year: 0, month: 0, day: 0, hour: 0, weekday: 0, yday: 0 };

/** Wall-clock fields of instant t (seconds) in zone, without allocating. */
function wallFields(zone: Zone, t: number): Fields {
  // int64(t*1e9) nanoseconds, then floor to milliseconds for the wall clock.
  const ms = Math.floor(Math.trunc(t * 1e9) / 1e6);
  const local = ms + zone.offsetAt(ms);
  const days = Math.floor(local / 86400000);
  const msOfDay = local - days * 86400000;
  fields.hour = Math.floor(msOfDay / 3600000);
  fields.weekday = (((days + 4) % 7) + 7) % 7;
  // civil-from-days (Howard Hinnant)
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  fields.year = y;
  fields.month = m;
  fields.day = d;
  const jan1 = Math.floor(Date.UTC(y, 0, 1) / 86400000);
  fields.yday = days - jan1 + 1;
  return fields;
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function dtDef(name: string, description: string, make: (zone: Zone) => (t: number) => unknown): Def {
  return {
    name,
    description,
    args: [arg('The timezone to use (default: the server\'s local zone)', { optional: true, default: 'Local', constant: true })],
    o2o: true,
    stateless: true,
    peek: false,
    build({ consts }) {
      const s = V.tryString(consts[0]);
      if (s === undefined) throw new ParseDetail(`unknown time zone ${V.goV(consts[0])}`);
      const f = make(loadZone(s));
      return pure((t) => f(t));
    },
  };
}

function since(zone: Zone, epochDay: number, period: number): (t: number) => unknown {
  let epoch: number | undefined;
  return (t) => {
    epoch ??= localMidnight(zone, 1970, 1, epochDay);
    return V.mkInt(Math.trunc((t - epoch) / period));
  };
}

export const datetimeTransforms: Def[] = [
  dtDef('day', 'Number of days since the local 1970-01-01', (z) => since(z, 1, 86400)),
  dtDef('hour', 'Number of hours since the local 1970-01-01', (z) => since(z, 1, 3600)),
  dtDef('week', 'Number of weeks since the local Monday 1970-01-05', (z) => since(z, 5, 7 * 86400)),
  dtDef('month', 'Number of months since 1970 (January 1970 is 1)', (z) => (t) => {
    const f = wallFields(z, t);
    return V.mkInt(12 * (f.year - 1970) + f.month);
  }),
  dtDef('year', 'The calendar year', (z) => (t) => V.mkInt(wallFields(z, t).year)),
  dtDef('dayhour', 'The hour of the day (0-23)', (z) => (t) => V.mkInt(wallFields(z, t).hour)),
  dtDef('weekday', 'The name of the weekday', (z) => (t) => WEEKDAYS[wallFields(z, t).weekday]),
  dtDef('monthday', 'The day of the month (1-31)', (z) => (t) => V.mkInt(wallFields(z, t).day)),
  dtDef('yearday', 'The day of the year (1-366)', (z) => (t) => V.mkInt(wallFields(z, t).yday)),
  dtDef('yearmonth', 'The name of the month', (z) => (t) => MONTHS[wallFields(z, t).month - 1]),
];
