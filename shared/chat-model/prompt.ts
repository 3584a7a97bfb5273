import type { ChatTurn, Passage } from "./chat-model.ts";

export interface PromptSource extends Passage {
  title: string | null;
  page?: number;
  sheet?: string;
  slide?: number;
}

const INSTRUCTIONS = `You answer questions for the user using only the numbered sources below.
- Cite the sources you use inline as [1], [2] … right after the statement they support.
- If the sources do not contain the answer, say that you could not find it in the documents. Do not use outside knowledge and do not invent facts, names or numbers.
- Answer in the language of the question. Be concise.`;

function label(source: PromptSource): string {
  const parts = [
    source.title ?? "untitled",
    source.sheet !== undefined ? `sheet ${source.sheet}` : undefined,
    source.slide !== undefined ? `slide ${source.slide}` : undefined,
    source.page !== undefined ? `page ${source.page}` : undefined,
  ].filter(Boolean);
  return `[${source.n}] (${parts.join(", ")})`;
}

/** The grounded prompt: instructions and numbered sources, the session's recent turns, the question. */
export function buildPrompt(sources: PromptSource[], history: ChatTurn[], question: string): ChatTurn[] {
  const context = sources.map((s) => `${label(s)}\n${s.text}`).join("\n\n");
  return [{ role: "system", content: `${INSTRUCTIONS}\n\nSources:\n\n${context}` }, ...history, { role: "user", content: question }];
}
