/** Create/edit forms for users, devices and streams: every writable field of rest-api §5–7. */
import { useId, useMemo, useState } from 'preact/hooks';
import type { Device, DeviceWrite, Stream, StreamWrite, User, UserCreate, UserUpdate } from '../api';
import { Checkbox, Form, Select, TextArea, TextField } from './ui';

/** Only the fields that differ from `initial` (an update sends just what changed). */
function changed<T extends object>(initial: Partial<T> | undefined, next: T): Partial<T> {
  if (!initial) return next;
  const out: Partial<T> = {};
  for (const k of Object.keys(next) as (keyof T)[]) if (next[k] !== initial[k]) out[k] = next[k];
  return out;
}

const NAME_HINT = 'Letters, digits, _ and -, starting with a letter; under 30 characters.';
const NAME_PATTERN = '[A-Za-z][A-Za-z0-9_\\-]{0,28}';
const ICON_HINT = 'Optional: material:icon_name, or an image as URL-safe base64.';

export function UserForm(props: { initial?: User; admin: boolean; onSave: (name: string, body: UserCreate | UserUpdate) => Promise<unknown>; submitLabel: string }) {
  const i = props.initial;
  const [name, setName] = useState(i?.name ?? '');
  const [email, setEmail] = useState(i?.email ?? '');
  const [password, setPassword] = useState('');
  const [nickname, setNickname] = useState(i?.nickname ?? '');
  const [description, setDescription] = useState(i?.description ?? '');
  const [icon, setIcon] = useState(i?.icon ?? '');
  const [role, setRole] = useState(i?.role ?? 'user');
  // A new user is public unless unticked, like the admin role's create_user_defaults.
  const [pub, setPub] = useState(i?.public ?? true);
  const submit = () => {
    const base = { email, nickname, description, icon, public: pub, ...(props.admin ? { role } : {}) };
    const body = changed<UserUpdate>(i, base);
    if (password) body.password = password;
    return props.onSave(name, i ? body : ({ ...base, password } as UserCreate));
  };
  return (
    <Form onSubmit={submit} submitLabel={props.submitLabel} label={i ? `Edit user ${i.name}` : 'New user'} savedText={i ? 'Saved.' : undefined}>
      <div class="grid2">
        {!i ? <TextField label="User name" value={name} onInput={setName} required pattern={NAME_PATTERN} hint={NAME_HINT} autoComplete="off" /> : null}
        <TextField label="Email" type="email" value={email} onInput={setEmail} required autoComplete="email" />
        <TextField
          label={i ? 'New password' : 'Password'}
          type="password"
          value={password}
          onInput={setPassword}
          required={!i}
          autoComplete="new-password"
          hint={i ? 'Leave empty to keep the current password.' : undefined}
        />
        <TextField label="Nickname" value={nickname} onInput={setNickname} hint="A display name." />
        <TextField label="Icon" value={icon} onInput={setIcon} hint={ICON_HINT} />
        {props.admin ? (
          <Select
            label="Role"
            value={role}
            onChange={setRole}
            options={[
              { value: 'user', label: 'user: manages their own devices and streams' },
              { value: 'admin', label: 'admin: manages every user, device and stream' },
            ]}
          />
        ) : null}
      </div>
      <TextArea label="Description" value={description} onInput={setDescription} rows={2} />
      <Checkbox label="Public" checked={pub} onChange={setPub} hint="Other users can see this user and its public devices." />
    </Form>
  );
}

const DEVICE_ROLES = [
  { value: '', label: 'none: only its own streams' },
  { value: 'reader', label: "reader: reads all of its user's streams" },
  { value: 'writer', label: "writer: reads and writes all of its user's streams" },
  { value: 'user', label: 'user: acts as its user (full access)' },
];

export function DeviceForm(props: { initial?: Device; onSave: (name: string, body: DeviceWrite) => Promise<unknown>; submitLabel: string }) {
  const i = props.initial;
  const [name, setName] = useState(i?.name ?? '');
  const [nickname, setNickname] = useState(i?.nickname ?? '');
  const [description, setDescription] = useState(i?.description ?? '');
  const [icon, setIcon] = useState(i?.icon ?? '');
  const [role, setRole] = useState(i?.role === 'none' ? '' : (i?.role ?? ''));
  const [apikey, setApikey] = useState('');
  const [enabled, setEnabled] = useState(i?.enabled ?? true);
  const [pub, setPub] = useState(i?.public ?? false);
  const [visible, setVisible] = useState(i?.visible ?? true);
  const [editable, setEditable] = useState(i?.user_editable ?? true);
  const submit = () => {
    const base: DeviceWrite = { nickname, description, icon, role, enabled, public: pub, visible, user_editable: editable };
    const initialRole = i && i.role === 'none' ? { ...i, role: '' } : i;
    const body = changed<DeviceWrite>(initialRole, base);
    if (!i && apikey) body.apikey = apikey;
    return props.onSave(name, body);
  };
  const roles = DEVICE_ROLES.some((r) => r.value === role) ? DEVICE_ROLES : [...DEVICE_ROLES, { value: role, label: role }];
  return (
    <Form onSubmit={submit} submitLabel={props.submitLabel} label={i ? `Edit device ${i.name}` : 'New device'} savedText={i ? 'Saved.' : undefined}>
      <div class="grid2">
        {!i ? <TextField label="Device name" value={name} onInput={setName} required pattern={NAME_PATTERN} hint={NAME_HINT} autoComplete="off" /> : null}
        <TextField label="Nickname" value={nickname} onInput={setNickname} />
        <TextField label="Icon" value={icon} onInput={setIcon} hint={ICON_HINT} />
        <Select label="Role" value={role} onChange={setRole} options={roles} hint="What the device's API key may do." />
        {!i ? <TextField label="API key" value={apikey} onInput={setApikey} hint="Leave empty for a random key." autoComplete="off" /> : null}
      </div>
      <TextArea label="Description" value={description} onInput={setDescription} rows={2} />
      <fieldset>
        <legend>Options</legend>
        <Checkbox label="Enabled" checked={enabled} onChange={setEnabled} hint="A disabled device's API key does not log in." />
        <Checkbox label="Public" checked={pub} onChange={setPub} hint="Other users can read this device's streams." />
        <Checkbox label="Visible" checked={visible} onChange={setVisible} hint="Shown in lists; hidden devices are for internal use." />
        <Checkbox label="User editable" checked={editable} onChange={setEditable} hint="Its user may change this device." />
      </fieldset>
    </Form>
  );
}

/** Whitespace outside strings removed, as the server stores schemas (rest-api §7.1). */
export function minifyJson(text: string): string {
  return JSON.stringify(JSON.parse(text));
}

type PresetId = 'none' | 'number' | 'boolean' | 'string' | 'rating' | 'enum' | 'object' | 'custom';
const FIELD_TYPES = ['number', 'integer', 'boolean', 'string'] as const;
type FieldType = (typeof FIELD_TYPES)[number];

interface ObjField {
  name: string;
  type: FieldType;
}

export const PRESETS: { id: PresetId; label: string }[] = [
  { id: 'none', label: 'Anything' },
  { id: 'number', label: 'Number' },
  { id: 'boolean', label: 'Boolean' },
  { id: 'string', label: 'Text' },
  { id: 'rating', label: 'Rating 1–10' },
  { id: 'enum', label: 'Choice' },
  { id: 'object', label: 'Object' },
  { id: 'custom', label: 'Custom JSON' },
];

const SIMPLE: Partial<Record<PresetId, string>> = {
  none: '{}',
  number: '{"type":"number"}',
  boolean: '{"type":"boolean"}',
  string: '{"type":"string"}',
  rating: '{"type":"integer","minimum":1,"maximum":10}',
};

/** Which preset a stored schema is, with the enum values / object fields it carries. */
export function detectPreset(schema: string): { id: PresetId; values: string; fields: ObjField[] } {
  const none = { values: '', fields: [] as ObjField[] };
  let text: string;
  let v: Record<string, unknown>;
  try {
    text = minifyJson(schema || '{}');
    v = JSON.parse(text);
  } catch {
    return { id: 'custom', ...none };
  }
  for (const [id, s] of Object.entries(SIMPLE)) if (s === text) return { id: id as PresetId, ...none };
  const keys = Object.keys(v).sort().join(',');
  if (keys === 'enum,type' && v.type === 'string' && Array.isArray(v.enum) && v.enum.every((x) => typeof x === 'string')) {
    return { id: 'enum', values: (v.enum as string[]).join(', '), fields: [] };
  }
  if (v.type === 'object' && v.properties && typeof v.properties === 'object' && (keys === 'properties,type' || keys === 'properties,required,type')) {
    const fields: ObjField[] = [];
    for (const [name, p] of Object.entries(v.properties as Record<string, Record<string, unknown>>)) {
      if (!p || Object.keys(p).join() !== 'type' || !FIELD_TYPES.includes(p.type as FieldType)) return { id: 'custom', ...none };
      fields.push({ name, type: p.type as FieldType });
    }
    return { id: 'object', values: '', fields };
  }
  return { id: 'custom', ...none };
}

function presetSchema(id: PresetId, values: string, fields: ObjField[], custom: string): string {
  if (SIMPLE[id]) return SIMPLE[id]!;
  if (id === 'enum') {
    const list = values.split(',').map((s) => s.trim()).filter(Boolean);
    return JSON.stringify({ type: 'string', enum: [...new Set(list)] });
  }
  if (id === 'object') {
    const properties: Record<string, { type: FieldType }> = {};
    for (const f of fields) if (f.name.trim()) properties[f.name.trim()] = { type: f.type };
    return JSON.stringify({ type: 'object', properties });
  }
  return custom;
}

/** A problem with a custom schema a person can fix, or '' when it can be sent. */
export function schemaProblem(text: string): string {
  if (!text.trim()) return '';
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `Not valid JSON: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'A JSON Schema is an object, like {"type":"number"}.';
  return '';
}

const DATATYPES = ['rating.stars', 'log.diary', 'string.text'];

export function StreamForm(props: { initial?: Stream; onSave: (name: string, body: StreamWrite) => Promise<unknown>; submitLabel: string }) {
  const i = props.initial;
  const detected = useMemo(() => detectPreset(i?.schema ?? '{"type":"number"}'), [i?.schema]);
  const [name, setName] = useState(i?.name ?? '');
  const [nickname, setNickname] = useState(i?.nickname ?? '');
  const [description, setDescription] = useState(i?.description ?? '');
  const [icon, setIcon] = useState(i?.icon ?? '');
  const [preset, setPreset] = useState<PresetId>(i ? detected.id : 'number');
  const [values, setValues] = useState(detected.values || 'low, medium, high');
  const [fields, setFields] = useState<ObjField[]>(detected.fields.length ? detected.fields : [{ name: 'value', type: 'number' }]);
  const [custom, setCustom] = useState(() => {
    try {
      return JSON.stringify(JSON.parse(i?.schema || '{}'), null, 2);
    } catch {
      return i?.schema ?? '{}';
    }
  });
  const [datatype, setDatatype] = useState(i?.datatype ?? '');
  const [ephemeral, setEphemeral] = useState(i?.ephemeral ?? false);
  const [downlink, setDownlink] = useState(i?.downlink ?? false);
  const listId = useId();
  const schema = presetSchema(preset, values, fields, custom);
  const problem = preset === 'custom' ? schemaProblem(custom) : '';
  const choose = (id: PresetId) => {
    if (id === 'custom') {
      // Start the editor from what the current preset would send, so it can be refined.
      try {
        setCustom(JSON.stringify(JSON.parse(schema), null, 2));
      } catch {
        // keep the text being edited
      }
    }
    if (id === 'rating' && !datatype) setDatatype('rating.stars');
    if (id !== 'rating' && datatype === 'rating.stars') setDatatype('');
    setPreset(id);
  };
  const submit = async () => {
    if (problem) throw new Error(problem);
    const text = minifyJson(schema.trim() || '{}');
    const base: StreamWrite = { nickname, description, icon, schema: text, datatype, ephemeral, downlink };
    const body = changed<StreamWrite>(i, base);
    return props.onSave(name, body);
  };
  return (
    <Form onSubmit={submit} submitLabel={props.submitLabel} label={i ? `Edit stream ${i.name}` : 'New stream'} savedText={i ? 'Saved.' : undefined}>
      <div class="grid2">
        {!i ? <TextField label="Stream name" value={name} onInput={setName} required pattern={NAME_PATTERN} hint={NAME_HINT} autoComplete="off" /> : null}
        <TextField label="Nickname" value={nickname} onInput={setNickname} />
      </div>
      <fieldset>
        <legend>Data type (JSON Schema)</legend>
        <div class="presets" role="group" aria-label="Schema presets">
          {PRESETS.map((p) => (
            <button key={p.id} type="button" aria-pressed={preset === p.id} onClick={() => choose(p.id)}>
              {p.label}
            </button>
          ))}
        </div>
        {preset === 'enum' ? <TextField label="Choices" value={values} onInput={setValues} hint="Separated by commas." /> : null}
        {preset === 'object' ? (
          <div>
            {fields.map((f, n) => (
              <div class="row" key={n} style="align-items:flex-end">
                <div style="flex:2">
                  <TextField label={`Field ${n + 1} name`} value={f.name} onInput={(v) => setFields(fields.map((x, j) => (j === n ? { ...x, name: v } : x)))} />
                </div>
                <div style="flex:1">
                  <Select
                    label={`Field ${n + 1} type`}
                    value={f.type}
                    options={FIELD_TYPES.map((t) => ({ value: t, label: t }))}
                    onChange={(v) => setFields(fields.map((x, j) => (j === n ? { ...x, type: v as FieldType } : x)))}
                  />
                </div>
                <button type="button" class="icon" style="margin-bottom:.75rem" aria-label={`Remove field ${n + 1}`} onClick={() => setFields(fields.filter((_, j) => j !== n))}>
                  Remove
                </button>
              </div>
            ))}
            <button type="button" onClick={() => setFields([...fields, { name: '', type: 'number' }])}>
              Add a field
            </button>
          </div>
        ) : null}
        {preset === 'custom' ? (
          <TextArea label="JSON Schema" value={custom} onInput={setCustom} rows={6} mono invalid={!!problem} hint={problem || 'Any JSON Schema (draft 4).'} />
        ) : (
          <p class="hint muted" style="margin:.5rem 0 0">
            Schema: <code>{schema}</code>
          </p>
        )}
      </fieldset>
      <div class="grid2">
        <div class="field">
          <label for={listId + '-dt'}>Datatype</label>
          <input id={listId + '-dt'} list={listId} value={datatype} onInput={(e) => setDatatype((e.target as HTMLInputElement).value)} aria-describedby={listId + '-dth'} />
          <datalist id={listId}>
            {DATATYPES.map((d) => (
              <option key={d} value={d} />
            ))}
          </datalist>
          <div class="hint" id={listId + '-dth'}>
            A hint for the app: rating.stars shows stars, log.diary a diary box.
          </div>
        </div>
        <TextField label="Icon" value={icon} onInput={setIcon} hint={ICON_HINT} />
      </div>
      <TextArea label="Description" value={description} onInput={setDescription} rows={2} />
      <fieldset>
        <legend>Options</legend>
        <Checkbox label="Downlink" checked={downlink} onChange={setDownlink} hint="Other devices may write requests to this stream (e.g. a light switch). Turning it off deletes the requests." />
        <Checkbox label="Ephemeral" checked={ephemeral} onChange={setEphemeral} hint="Datapoints are checked and sent live, but not stored." />
      </fieldset>
    </Form>
  );
}
