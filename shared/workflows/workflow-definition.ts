import { z } from "zod";
import { schemaValidator } from "./json-schemas.ts";
import { outputSchemaOf, STEP_TYPE_NAMES, STEP_TYPES, type JsonSchema, type StepTypeName } from "./step-types.ts";
import { eachString, referencesIn, TemplateError, type Reference } from "./templates.ts";

/** `{{references}}` in one definition, at most. */
export const MAX_REFERENCES = 256;
/** Problems reported for one refused definition (the first ones, by JSON path order of discovery). */
const MAX_PROBLEMS = 50;

/** Longest run Quarry accepts, whatever the definition asks (a day). */
export const MAX_RUN_TIMEOUT_S = 24 * 3600;

const stepId = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, "a step id is a letter, then up to 63 letters, digits, _ or -");

const stepSchema = z.strictObject({
  id: stepId,
  type: z.enum(STEP_TYPE_NAMES),
  with: z.record(z.string(), z.unknown()),
  needs: z.array(stepId).max(50).default([]),
  timeout_s: z.number().int().min(1).max(MAX_RUN_TIMEOUT_S).optional().describe("one attempt of the step; default: what is left of the run's timeout"),
  retries: z.number().int().min(0).max(10).optional().describe("retries after the first attempt; default: the workflow's max_retries"),
});

/** A workflow as `POST /v1/workflows` (and `PUT /v1/workflows/:id`) takes it; `with` is checked per step type after. */
export const workflowBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2_000).optional(),
  steps: z.array(stepSchema).min(1).max(50),
  timeout_s: z.number().int().min(1).max(MAX_RUN_TIMEOUT_S).optional().describe("the whole run; default DEFAULT_WORKFLOW_TIMEOUT (300)"),
  max_retries: z.number().int().min(0).max(10).optional().describe("retries of each step after its first attempt; default and ceiling MAX_WORKFLOW_RETRIES (3)"),
  input_schema: z.record(z.string(), z.unknown()).optional().describe("JSON Schema of a run's input: checked when a run starts, and {{input…}} references are checked against it"),
});
export type WorkflowBody = z.output<typeof workflowBody>;

export interface WorkflowStep {
  id: string;
  type: StepTypeName;
  with: Record<string, unknown>;
  needs: string[];
  timeout_s?: number;
  retries: number;
}

/** A version of a workflow as stored (defaults applied): what its runs execute. */
export interface WorkflowDefinition {
  description?: string;
  steps: WorkflowStep[];
  timeout_s: number;
  max_retries: number;
  input_schema?: Record<string, unknown>;
}

/** One problem of a definition, at its JSON path (`$.steps[2].needs[0]`). */
export interface DefinitionProblem {
  path: string;
  message: string;
}

const jsonPath = (segments: ReadonlyArray<PropertyKey>) =>
  "$" + segments.map((s) => (typeof s === "number" ? `[${s}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(String(s)) ? `.${String(s)}` : `[${JSON.stringify(String(s))}]`)).join("");

/**
 * Whether a value described by `schema` can have `path`. A schema that lists `properties` is
 * taken as closed unless `additionalProperties` says otherwise, so that a misspelt field is caught
 * when the workflow is stored rather than when it runs.
 */
export function pathProblem(schema: JsonSchema | undefined, path: readonly string[]): string | undefined {
  if (path.length === 0 || schema === true) return undefined;
  if (schema === false) return `"${path[0]}" cannot exist`;
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return undefined; // not a schema: nothing to check against
  for (const key of ["anyOf", "oneOf"] as const) {
    const branches = schema[key];
    if (Array.isArray(branches)) return branches.some((b) => !pathProblem(b as JsonSchema, path)) ? undefined : `no alternative of the schema has "${path.join(".")}"`;
  }
  if (schema.$ref !== undefined) return undefined; // not followed: anything may be there
  const [segment, ...rest] = path as [string, ...string[]];
  const types = ([] as unknown[]).concat(schema.type ?? []);
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (properties && Object.hasOwn(properties, segment)) return pathProblem(properties[segment], rest);
  if (schema.items !== undefined || types.includes("array")) {
    if (!/^\d+$/.test(segment)) return `"${segment}" is not an index: the value there is a list`;
    return pathProblem((schema.items ?? true) as JsonSchema, rest);
  }
  if (types.length > 0 && !types.includes("object")) return `"${segment}" cannot exist: the value there is a ${types.join(" or ")}`;
  const additional = schema.additionalProperties as JsonSchema | undefined;
  if (additional === false || (properties && additional === undefined)) {
    const known = properties ? Object.keys(properties) : [];
    return `"${segment}" is not a field there${known.length ? ` (it has: ${known.join(", ")})` : ""}`;
  }
  return pathProblem(additional ?? true, rest);
}

/** Every step that `id` depends on, directly or through others. */
function ancestors(id: string, needsOf: Map<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(needsOf.get(id) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(needsOf.get(next) ?? []));
  }
  return seen;
}

/** A cycle through the steps left when every step that could run has been taken out (Kahn). */
function findCycle(steps: ReadonlyArray<{ id: string; needs: string[] }>): string[] | undefined {
  const known = new Set(steps.map((s) => s.id));
  const pending = new Map(steps.map((s) => [s.id, new Set(s.needs.filter((n) => known.has(n)))]));
  let progressed = true;
  while (progressed) {
    progressed = false;
    for (const [id, needs] of pending) {
      if ([...needs].every((n) => !pending.has(n))) {
        pending.delete(id);
        progressed = true;
      }
    }
  }
  if (pending.size === 0) return undefined;
  // Walk needs inside what is left until a step comes round again.
  const path: string[] = [];
  let at = pending.keys().next().value!;
  while (!path.includes(at)) {
    path.push(at);
    at = [...pending.get(at)!].find((n) => pending.has(n))!;
  }
  return [...path.slice(path.indexOf(at)), at];
}

/**
 * Checks a workflow and applies its defaults. Every problem is reported with its JSON path: the
 * shape, each step's `with` for its type, step ids, `needs` (unknown steps, cycles), and every
 * `{{reference}}` (to a step that is not upstream, or to a field its output cannot have).
 */
export function checkWorkflow(
  input: unknown,
  defaults: { timeoutS: number; maxRetries: number },
): { ok: true; name: string; definition: WorkflowDefinition } | { ok: false; problems: DefinitionProblem[] } {
  const parsed = workflowBody.safeParse(input ?? {});
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => ({ path: jsonPath(i.path), message: i.message })) };
  const body = parsed.data;
  const problems: DefinitionProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, message });

  if (body.max_retries !== undefined && body.max_retries > defaults.maxRetries) {
    problem("$.max_retries", `at most ${defaults.maxRetries} (MAX_WORKFLOW_RETRIES)`);
  }
  let inputSchema: JsonSchema | undefined;
  if (body.input_schema) {
    const compiled = schemaValidator(body.input_schema);
    if ("problem" in compiled) problem("$.input_schema", compiled.problem);
    else inputSchema = body.input_schema;
  }

  const index = new Map<string, number>();
  body.steps.forEach((step, i) => {
    if (index.has(step.id)) problem(`$.steps[${i}].id`, `"${step.id}" is already the id of steps[${index.get(step.id)}]`);
    else index.set(step.id, i);
  });
  const withs = body.steps.map((step, i) => {
    if (step.retries !== undefined && step.retries > defaults.maxRetries) problem(`$.steps[${i}].retries`, `at most ${defaults.maxRetries} (MAX_WORKFLOW_RETRIES)`);
    const result = STEP_TYPES[step.type].with.safeParse(step.with);
    if (!result.success) {
      for (const issue of result.error.issues) problem(jsonPath(["steps", i, "with", ...issue.path]), issue.message);
      return undefined;
    }
    if (step.type === "llm") {
      const schema = (result.data as { schema?: object }).schema;
      const compiled = schema ? schemaValidator(schema) : undefined;
      if (compiled && "problem" in compiled) {
        problem(`$.steps[${i}].with.schema`, compiled.problem);
        return undefined; // references into its output cannot be checked against a broken schema
      }
    }
    return result.data as Record<string, unknown>;
  });
  body.steps.forEach((step, i) => {
    step.needs.forEach((need, j) => {
      if (need === step.id) problem(`$.steps[${i}].needs[${j}]`, "a step cannot need itself");
      else if (!index.has(need)) problem(`$.steps[${i}].needs[${j}]`, `there is no step "${need}"`);
    });
  });
  const cycle = findCycle(body.steps);
  if (cycle) problem(`$.steps[${index.get(cycle[0]!)}].needs`, `the steps form a cycle: ${cycle.join(" → ")}`);

  const needsOf = new Map(body.steps.map((s) => [s.id, s.needs]));
  // Each distinct path is walked once per schema, and a definition has a bounded number of references.
  const walked = new Map<string, string | undefined>();
  const pathTrouble = (key: string, schema: JsonSchema, path: string[]) => {
    const memo = `${key}|${path.join(".")}`;
    if (!walked.has(memo)) walked.set(memo, pathProblem(schema, path));
    return walked.get(memo);
  };
  let references = 0;
  body.steps.forEach((step, i) => {
    const upstream = cycle ? new Set(step.needs) : ancestors(step.id, needsOf);
    eachString(step.with, `$.steps[${i}].with`, (value, path) => {
      let refs: Reference[];
      try {
        refs = referencesIn(value);
      } catch (err) {
        if (err instanceof TemplateError) return void problem(path, err.message);
        throw err;
      }
      references += refs.length;
      if (references > MAX_REFERENCES) {
        if (references - refs.length <= MAX_REFERENCES) problem(path, `more than ${MAX_REFERENCES} references in one workflow`);
        return;
      }
      for (const ref of refs) {
        if (ref.root === "input") {
          const trouble = inputSchema ? pathTrouble("input", inputSchema, ref.path) : undefined;
          if (trouble) problem(path, `{{${ref.text}}}: ${trouble} of input_schema`);
          continue;
        }
        const at = index.get(ref.step);
        if (at === undefined) problem(path, `{{${ref.text}}}: there is no step "${ref.step}"`);
        else if (!upstream.has(ref.step)) problem(path, `{{${ref.text}}}: "${ref.step}" is not among the steps "${step.id}" needs (directly or through others), so its output may not exist yet`);
        else {
          const parsedWith = withs[at];
          const trouble = parsedWith ? pathTrouble(ref.step, outputSchemaOf(body.steps[at]!.type, parsedWith), ref.path) : undefined;
          if (trouble) problem(path, `{{${ref.text}}}: ${trouble} of a ${body.steps[at]!.type} step's output`);
        }
      }
    });
  });
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, MAX_PROBLEMS) };
  return {
    ok: true,
    name: body.name,
    definition: {
      ...(body.description ? { description: body.description } : {}),
      steps: body.steps.map((s, i) => ({
        id: s.id,
        type: s.type,
        with: withs[i]!,
        needs: s.needs,
        ...(s.timeout_s ? { timeout_s: s.timeout_s } : {}),
        retries: s.retries ?? body.max_retries ?? defaults.maxRetries,
      })),
      timeout_s: body.timeout_s ?? defaults.timeoutS,
      max_retries: body.max_retries ?? defaults.maxRetries,
      ...(body.input_schema ? { input_schema: body.input_schema } : {}),
    },
  };
}
