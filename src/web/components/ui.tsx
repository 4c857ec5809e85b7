/** Small shared building blocks: every control labelled, every error readable. */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message || 'Something went wrong.';
  return String(e);
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div class="alert" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {errorText(error)}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

interface FieldProps {
  label: string;
  hint?: string;
  children: (id: string, hintId?: string) => ComponentChildren;
}

/** A labelled control; `children` receives the id to put on the input. */
export function Field({ label, hint, children }: FieldProps) {
  const id = useId();
  const hintId = hint ? id + '-hint' : undefined;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children(id, hintId)}
      {hint ? (
        <div class="hint" id={hintId}>
          {hint}
        </div>
      ) : null}
    </div>
  );
}

export function TextField(props: {
  label: string;
  value: string;
  onInput: (v: string) => void;
  hint?: string;
  type?: string;
  required?: boolean;
  autoComplete?: string;
  name?: string;
  pattern?: string;
  placeholder?: string;
  disabled?: boolean;
}) {
  return (
    <Field label={props.label} hint={props.hint}>
      {(id, hintId) => (
        <input
          id={id}
          name={props.name}
          type={props.type ?? 'text'}
          value={props.value}
          required={props.required}
          autocomplete={props.autoComplete}
          pattern={props.pattern}
          placeholder={props.placeholder}
          disabled={props.disabled}
          aria-describedby={hintId}
          onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
        />
      )}
    </Field>
  );
}

export function TextArea(props: { label: string; value: string; onInput: (v: string) => void; hint?: string; rows?: number; mono?: boolean; invalid?: boolean }) {
  return (
    <Field label={props.label} hint={props.hint}>
      {(id, hintId) => (
        <textarea
          id={id}
          rows={props.rows ?? 3}
          class={props.mono ? 'mono' : undefined}
          value={props.value}
          aria-describedby={hintId}
          aria-invalid={props.invalid || undefined}
          spellcheck={!props.mono}
          onInput={(e) => props.onInput((e.target as HTMLTextAreaElement).value)}
        />
      )}
    </Field>
  );
}

export function Checkbox(props: { label: string; checked: boolean; onChange: (v: boolean) => void; hint?: string; disabled?: boolean }) {
  const id = useId();
  return (
    <label class="check" for={id}>
      <input id={id} type="checkbox" checked={props.checked} disabled={props.disabled} onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)} />
      <span>
        {props.label}
        {props.hint ? <span class="hint">{props.hint}</span> : null}
      </span>
    </label>
  );
}

export function Select(props: { label: string; value: string; options: { value: string; label: string }[]; onChange: (v: string) => void; hint?: string }) {
  return (
    <Field label={props.label} hint={props.hint}>
      {(id, hintId) => (
        <select id={id} value={props.value} aria-describedby={hintId} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
          {props.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/**
 * A button that asks before doing something destructive, in a modal <dialog> (focus trapped,
 * Escape cancels). `action` errors are shown in the dialog.
 */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirmLabel: string;
  action: () => Promise<unknown>;
  danger?: boolean;
  children?: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const titleId = useId();
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.action();
      ref.current?.close();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class={props.danger ? 'danger' : undefined} onClick={() => ref.current?.showModal()}>
        {props.label}
      </button>
      <dialog ref={ref} aria-labelledby={titleId}>
        <h2 id={titleId} style="margin-top:0">
          {props.question}
        </h2>
        {props.children}
        <ErrorBox error={error} />
        <div class="row" style="justify-content:flex-end;margin-top:1rem">
          <button type="button" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="button" class={props.danger ? 'danger solid' : 'primary'} disabled={busy} onClick={run}>
            {props.confirmLabel}
          </button>
        </div>
      </dialog>
    </>
  );
}

/** Copies `text`; says so for screen readers too. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState<'' | 'ok' | 'fail'>('');
  useEffect(() => {
    if (!done) return;
    const t = setTimeout(() => setDone(''), 2000);
    return () => clearTimeout(t);
  }, [done]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('ok');
    } catch {
      setDone('fail');
    }
  };
  return (
    <button type="button" onClick={copy} aria-live="polite">
      {done === 'ok' ? 'Copied' : done === 'fail' ? 'Copy failed: select and copy by hand' : label}
    </button>
  );
}

/** A form with busy state and the server's error in place. */
export function Form(props: {
  onSubmit: () => Promise<unknown>;
  submitLabel: string;
  children: ComponentChildren;
  extra?: ComponentChildren;
  label?: string;
  /** Said after a successful submit that stays on the page (an edit). */
  savedText?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);
  const submit = async (e: JSX.TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      await props.onSubmit();
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-label={props.label}>
      {props.children}
      <ErrorBox error={error} />
      {saved && props.savedText ? (
        <p class="success" role="status">
          {props.savedText}
        </p>
      ) : null}
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : props.submitLabel}
        </button>
        {props.extra}
      </div>
    </form>
  );
}
