import { describe, expect, it } from "vitest";
import { schemaValidator } from "../../shared/workflows/json-schemas.ts";
import { storable } from "../../shared/workflows/run-workflow.ts";
import { render, TemplateError } from "../../shared/workflows/templates.ts";
import { checkWorkflow, pathProblem } from "../../shared/workflows/workflow-definition.ts";

const DEFAULTS = { timeoutS: 300, maxRetries: 3 };
const COLLECTION = "0b7c6c1e-8d1f-4f7e-9a57-2f0c7f6c1a10";
const check = (body: unknown) => checkWorkflow(body, DEFAULTS);
const problems = (body: unknown) => {
  const result = check(body);
  if (result.ok) throw new Error("expected the workflow to be refused");
  return result.problems;
};

describe("checkWorkflow", () => {
  it("accepts a DAG and applies the defaults", () => {
    const result = check({
      name: "ok",
      steps: [
        { id: "find", type: "search", with: { collection_id: "{{input.collection}}", query: "{{input.q}}" } },
        { id: "a", type: "llm", needs: ["find"], with: { prompt: "{{steps.find.output.results.0.text}}", schema: { type: "object", properties: { n: { type: "integer" } } } } },
        { id: "b", type: "chat", needs: ["find"], with: { collection_ids: [COLLECTION], message: "m" } },
        { id: "post", type: "http", needs: ["a", "b"], retries: 1, with: { url: "https://example.com/x", body: { n: "{{steps.a.output.data.n}}", cited: "{{steps.b.output.sources.0.title}}", q: "{{steps.find.output.results}}" } } },
      ],
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.definition).toMatchObject({ timeout_s: 300, max_retries: 3 });
    expect(result.definition.steps.map((s) => [s.id, s.retries])).toEqual([
      ["find", 3],
      ["a", 3],
      ["b", 3],
      ["post", 1],
    ]);
    expect(result.definition.steps[0]!.with).toMatchObject({ top_k: 5 });
  });

  it("names unknown types, duplicate ids, unknown and self needs, with their JSON paths", () => {
    const found = problems({
      name: "bad",
      steps: [
        { id: "a", type: "llm", with: { prompt: "p" } },
        { id: "a", type: "llm", with: { prompt: "p" }, needs: ["a", "zz"] },
      ],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        { path: "$.steps[1].id", message: expect.stringMatching(/already the id of steps\[0\]/) },
        { path: "$.steps[1].needs[0]", message: "a step cannot need itself" },
        { path: "$.steps[1].needs[1]", message: 'there is no step "zz"' },
      ]),
    );
    expect(problems({ name: "x", steps: [{ id: "a", type: "sql", with: {} }] })[0]!.path).toBe("$.steps[0].type");
    expect(problems({ name: "x", steps: [] })[0]!.path).toBe("$.steps");
  });

  it("finds a cycle and names its steps in order", () => {
    const found = problems({
      name: "cycle",
      steps: [
        { id: "start", type: "llm", with: { prompt: "p" } },
        { id: "x", type: "llm", with: { prompt: "p" }, needs: ["start", "z"] },
        { id: "y", type: "llm", with: { prompt: "p" }, needs: ["x"] },
        { id: "z", type: "llm", with: { prompt: "p" }, needs: ["y"] },
      ],
    });
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/cycle: (x → z → y → x|y → x → z → y|z → y → x → z)/);
  });

  it("checks every reference: its step exists and is upstream, and the field can exist in its output", () => {
    const found = problems({
      name: "refs",
      input_schema: { type: "object", properties: { topic: { type: "string" } }, additionalProperties: false },
      steps: [
        { id: "s", type: "search", with: { collection_id: COLLECTION, query: "{{input.topc}}" } },
        { id: "l", type: "llm", needs: ["s"], with: { prompt: "{{steps.s.output.results.first.text}} {{steps.s.output.hits}}" } },
        { id: "h", type: "http", needs: ["l"], with: { url: "https://e.com/{{steps.ghost.output}}", headers: { "x-a": "{{steps.l.output.data.x}}" }, body: ["{{ run.id }}"] } },
        { id: "side", type: "llm", with: { prompt: "{{steps.h.output.status}}" } },
      ],
    });
    const at = (path: string) => found.filter((p) => p.path === path).map((p) => p.message);
    expect(at("$.steps[0].with.query")).toEqual([expect.stringMatching(/"topc" is not a field there \(it has: topic\) of input_schema/)]);
    expect(at("$.steps[1].with.prompt")).toEqual([expect.stringMatching(/"first" is not an index/), expect.stringMatching(/"hits" is not a field there \(it has: results, mode, reranked, warnings\)/)]);
    expect(at("$.steps[2].with.url")).toEqual([expect.stringMatching(/there is no step "ghost"/)]);
    // An llm step without a schema has no `data`.
    expect(at('$.steps[2].with.headers["x-a"]')).toEqual([expect.stringMatching(/"data" is not a field there/)]);
    expect(at("$.steps[2].with.body[0]")).toEqual([expect.stringMatching(/only input and steps can be referenced/)]);
    expect(at("$.steps[3].with.prompt")).toEqual([expect.stringMatching(/"h" is not among the steps "side" needs/)]);
  });

  it("refuses a non-number where a number goes, unless it is one reference", () => {
    const base = { name: "n", steps: [{ id: "s", type: "search", with: { collection_id: COLLECTION, query: "q", top_k: "{{input.k}}" } }] };
    expect(check(base).ok).toBe(true);
    const found = problems({ ...base, steps: [{ ...base.steps[0], with: { ...base.steps[0]!.with, top_k: "five {{input.k}}" } }] });
    expect(found[0]!.path).toBe("$.steps[0].with.top_k");
  });

  it("refuses retries above MAX_WORKFLOW_RETRIES, invalid JSON Schemas and reserved headers", () => {
    const found = problems({
      name: "limits",
      max_retries: 5,
      input_schema: { type: "nonsense" },
      steps: [
        { id: "l", type: "llm", retries: 4, with: { prompt: "p", schema: { type: 12 } } },
        { id: "h", type: "http", with: { url: "https://e.com", headers: { "Webhook-Signature": "forged" } } },
      ],
    });
    expect(found.map((p) => p.path).sort()).toEqual(["$.input_schema", "$.max_retries", "$.steps[0].retries", "$.steps[0].with.schema", "$.steps[1].with.headers"]);
  });
});

describe("a tenant's JSON Schemas", () => {
  it("refuse regular expressions, $async and anything over 16 KiB", () => {
    const step = (schema: object) => ({ name: "s", steps: [{ id: "l", type: "llm", with: { prompt: "p", schema } }] });
    expect(problems(step({ type: "string", pattern: "^(a+)+$" }))[0]!.message).toMatch(/"pattern" is not supported/);
    expect(problems({ name: "s", input_schema: { patternProperties: { "^x": {} } }, steps: [{ id: "l", type: "llm", with: { prompt: "p" } }] })[0]!.path).toBe("$.input_schema");
    expect(problems(step({ $async: true, type: "object" }))[0]!.message).toMatch(/"\$async" is not supported/);
    expect(problems(step({ anyOf: Array.from({ length: 5000 }, () => ({ type: "object" })) }))[0]!.message).toMatch(/larger than 16384 bytes/);
    // A property, a definition or a value that happens to be called "pattern" is not the keyword.
    const named = { type: "object", properties: { pattern: { type: "string" } }, $defs: { pattern: { type: "string" } }, enum: [{ pattern: "x" }] };
    expect(check(step(named)).ok).toBe(true);
    expect(problems(step({ type: "object", properties: { p: { type: "string", pattern: "a" } } }))[0]!.message).toMatch(/"pattern" is not supported/);
  });

  it("compile once each, and two schemas with one $id do not collide", () => {
    const a = schemaValidator({ $id: "https://example.com/answer", type: "object", required: ["a"] });
    const again = schemaValidator({ $id: "https://example.com/answer", type: "object", required: ["a"] });
    const b = schemaValidator({ $id: "https://example.com/answer", type: "object", required: ["b"] });
    expect(again).toBe(a);
    if ("problem" in a || "problem" in b) throw new Error("expected validators");
    expect([a.validate({ a: 1 }), a.validate({ b: 1 }), b.validate({ b: 1 })]).toEqual([true, false, true]);
  });

  it("do not crash the checker when one is broken and a reference reads into it", () => {
    const found = problems({
      name: "n",
      steps: [
        { id: "l", type: "llm", with: { prompt: "p", schema: { type: "object", properties: { x: null } } } },
        { id: "h", type: "http", needs: ["l"], with: { url: "https://e.com", method: "GET", body: { y: "{{steps.l.output.data.x.y}}" } } },
      ],
    });
    expect(found.map((p) => p.path)).toEqual(["$.steps[0].with.schema", "$.steps[1].with.body"]);
    expect(found[1]!.message).toMatch(/GET request cannot have a body/);
  });
});

describe("storable", () => {
  it("removes NUL and replaces lone surrogates, in keys and values at any depth", () => {
    expect(storable({ "k\u0000": ["a\u0000b", { deep: "x\ud800y" }], n: 1, t: null })).toEqual({ k: ["ab", { deep: "x\ufffdy" }], n: 1, t: null });
  });
});

describe("pathProblem", () => {
  it("follows properties, items and alternatives, and treats a schema with properties as closed", () => {
    const schema = { type: "object", properties: { a: { type: "array", items: { anyOf: [{ type: "object", properties: { b: true } }, { type: "string" }] } } } };
    expect(pathProblem(schema, ["a", "0", "b", "anything"])).toBeUndefined();
    expect(pathProblem(schema, ["a", "0", "c"])).toMatch(/no alternative/);
    expect(pathProblem(schema, ["z"])).toMatch(/"z" is not a field there/);
    expect(pathProblem({ type: "object", properties: { a: true }, additionalProperties: true }, ["z"])).toBeUndefined();
    expect(pathProblem({ type: "string" }, ["length"])).toMatch(/the value there is a string/);
    expect(pathProblem({ $ref: "#/x" }, ["anything"])).toBeUndefined();
  });
});

describe("render", () => {
  const scope = { input: { n: 3, who: "owl", list: [1, 2] }, outputs: { s: { results: [{ text: "hello" }] } } };

  it("keeps the type of a whole reference and writes others into the text", () => {
    expect(render({ a: "{{input.n}}", b: "n={{ input.n }}", c: ["{{input.list}}", "{{input.list}}!"], d: 7 }, scope)).toEqual({ a: 3, b: "n=3", c: [[1, 2], "[1,2]!"], d: 7 });
    expect(render("{{steps.s.output.results.0.text}} {{input.who}}", scope)).toBe("hello owl");
  });

  it("throws a TemplateError for a value that is not there", () => {
    expect(() => render("{{input.missing}}", scope)).toThrow(TemplateError);
    expect(() => render("{{steps.t.output}}", scope)).toThrow(/step "t" has no output/);
    expect(() => render("{{steps.s.output.results.5.text}}", scope)).toThrow(/"5" is missing/);
  });

  it("leaves text that only looks like a reference in the input alone", () => {
    expect(render("{{input.who}}", { input: { who: "{{input.n}}" }, outputs: {} })).toBe("{{input.n}}");
  });
});
