/**
 * Workflow templates: `{{input.x}}` and `{{steps.<id>.output.a.0.b}}` inside the string values of a
 * step's `with`. A string that is exactly one reference takes the referenced value as it is (an
 * object stays an object, a number a number); a reference inside longer text is written into it
 * (objects as JSON). Deliberately tiny: no logic, no helpers, no escaping rules to learn.
 */

const REFERENCE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}]*?)\s*\}\}$/;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** A parsed reference: `input` with a path, or a step's output with a path. */
export type Reference = { root: "input"; path: string[]; text: string } | { root: "steps"; step: string; path: string[]; text: string };

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

/** Parses the text between `{{` and `}}`; throws a TemplateError naming what is wrong. */
export function parseReference(text: string): Reference {
  const parts = text.split(".");
  if (parts.some((p) => !SEGMENT.test(p))) throw new TemplateError(`"{{${text}}}" is not a reference: use dotted names, like input.topic or steps.search.output.results.0.text`);
  const [root, ...rest] = parts;
  if (root === "input") return { root: "input", path: rest, text };
  if (root === "steps") {
    const [step, output, ...path] = rest;
    if (!step || output !== "output") throw new TemplateError(`"{{${text}}}": a step's value is read as steps.<id>.output…`);
    return { root: "steps", step, path, text };
  }
  throw new TemplateError(`"{{${text}}}" refers to "${root}": only input and steps can be referenced`);
}

/** Every reference in a string, in order. */
export function referencesIn(value: string): Reference[] {
  return [...value.matchAll(REFERENCE)].map((m) => parseReference(m[1]!));
}

/** Calls `visit` for every string inside a JSON value, with its JSON path below `base`. */
export function eachString(value: unknown, base: string, visit: (s: string, path: string) => void): void {
  if (typeof value === "string") visit(value, base);
  else if (Array.isArray(value)) value.forEach((v, i) => eachString(v, `${base}[${i}]`, visit));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) eachString(v, /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${base}.${k}` : `${base}[${JSON.stringify(k)}]`, visit);
}

export interface TemplateScope {
  input: unknown;
  /** Outputs of the steps that have succeeded, by step id. */
  outputs: Record<string, unknown>;
}

function lookup(ref: Reference, scope: TemplateScope): unknown {
  let value: unknown;
  if (ref.root === "input") value = scope.input;
  else {
    if (!Object.hasOwn(scope.outputs, ref.step)) throw new TemplateError(`{{${ref.text}}}: step "${ref.step}" has no output`);
    value = scope.outputs[ref.step];
  }
  for (const segment of ref.path) {
    const next = value !== null && typeof value === "object" && Object.hasOwn(value, segment) ? (value as Record<string, unknown>)[segment] : undefined;
    if (next === undefined) throw new TemplateError(`{{${ref.text}}} has no value ("${segment}" is missing)`);
    value = next;
  }
  return value;
}

const asText = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

/** Resolves every reference inside a JSON value; throws a TemplateError for one with no value. */
export function render(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === "string") {
    const whole = WHOLE.exec(value);
    if (whole) return lookup(parseReference(whole[1]!), scope);
    return value.replace(REFERENCE, (_m, text: string) => asText(lookup(parseReference(text), scope)));
  }
  if (Array.isArray(value)) return value.map((v) => render(v, scope));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, scope)]));
  return value;
}
