import { describe, expect, it } from "vitest";
import { bestSentences, ExtractiveChatModel } from "../../shared/chat-model/extractive.chat-model.ts";
import { buildPrompt } from "../../shared/chat-model/prompt.ts";
import { stripCitations } from "../../shared/use-cases/chat.ts";

describe("buildPrompt", () => {
  it("puts instructions and numbered, labelled sources first, then the history, then the question", () => {
    const messages = buildPrompt(
      [
        { n: 1, text: "Refunds take 14 days.", title: "Handbook", page: 3 },
        { n: 2, text: "Shipping is free.", title: null },
      ],
      [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
      ],
      "How long do refunds take?",
    );
    expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(messages[0]!.content).toContain("using only the numbered sources");
    expect(messages[0]!.content).toContain("[1] (Handbook, page 3)\nRefunds take 14 days.\n\n[2] (untitled)\nShipping is free.");
    expect(messages.at(-1)).toEqual({ role: "user", content: "How long do refunds take?" });
  });
});

describe("stripCitations", () => {
  it("takes [n] markers out of an earlier answer", () => {
    expect(stripCitations("Refunds take 14 days [1]. Shipping is free [2][3].")).toBe("Refunds take 14 days. Shipping is free.");
  });
});

describe("the extractive answerer", () => {
  it("quotes the sentences that share most words with the question, with citations, and says what it is", async () => {
    const model = new ExtractiveChatModel();
    const answer = await model.complete({
      messages: [],
      temperature: 0,
      grounding: {
        question: "How long do refunds take?",
        passages: [
          { n: 1, text: "Our shop opened in 1999. Refunds take 14 days after the return arrives. We love customers." },
          { n: 2, text: "Shipping is free above 50 euros." },
        ],
      },
    });
    expect(answer.text).toMatch(/^No language model is configured/);
    expect(answer.text).toContain("[1] ");
    expect(answer.text).toContain("Refunds take 14 days after the return arrives.");
    expect(answer.text).toContain("[2] Shipping is free above 50 euros.");
    expect(answer.usage).toBeUndefined();
  });

  it("keeps the picked sentences in their original order", () => {
    expect(bestSentences("alpha gamma", "Alpha one. Beta two. Gamma three.", 2)).toBe("Alpha one. Gamma three.");
  });
});
