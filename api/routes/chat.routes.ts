import { Router } from "express";
import { z } from "zod";
import type { ChatUsage } from "../../shared/chat-model/chat-model.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError, notFound } from "../../shared/errors/app-error.ts";
import { chat, chatRequest, NOTHING_FOUND, prepareChat, saveExchange, type ChatRecord } from "../../shared/use-cases/chat.ts";
import { SEARCH_MODES } from "../../shared/retrieval/search-modes.ts";
import { filterSchema } from "../../shared/vector-store/filter.ts";
import { abortOnDisconnect, openEventStream } from "../middleware/sse.ts";
import { safeText, withSafeJson } from "../middleware/safe-text.ts";
import { validate } from "../middleware/validate.ts";
import { idParam } from "./params.ts";

export const chatBody = z.object({
  collection_ids: z.array(z.uuid()).min(1).max(10),
  message: safeText().trim().min(1).max(8000),
  session_id: z.uuid().optional(),
  top_k: z.number().int().min(1).max(20).default(5),
  temperature: z.number().min(0).max(2).optional(),
  filter: withSafeJson(filterSchema).optional(),
  search_mode: z.enum(SEARCH_MODES).optional().describe("how passages are retrieved: vector, keyword or hybrid (default: each collection's own)"),
  rerank: z.boolean().optional().describe("default: true when the deployment has a reranker (RERANK_URL)"),
  stream: z.boolean().default(false),
});

export function chatRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/chat", async (req, res) => {
    const body = validate(chatBody, req.body);
    const input = {
      collectionIds: body.collection_ids.map((id) => id.toLowerCase()),
      message: body.message,
      sessionId: body.session_id?.toLowerCase(),
      topK: body.top_k,
      temperature: body.temperature ?? deps.config.CHAT_TEMPERATURE,
      filter: body.filter,
      searchMode: body.search_mode,
      rerank: body.rerank,
    };
    const signal = abortOnDisconnect(res);
    if (!body.stream) return void res.json(await chat(deps, req.tenantId, input, signal));

    // Errors up to here (404, 400, provider failures while retrieving) answer as JSON; after the
    // first event they arrive as an `error` event.
    const prepared = await prepareChat(deps, req.tenantId, input);
    const { chatModel } = deps;
    const events = openEventStream(res);
    events.send("sources", { session_id: prepared.sessionId, sources: prepared.sources, ...(prepared.warnings.length > 0 ? { warnings: prepared.warnings } : {}) });
    let answer = "";
    let usage: ChatUsage | undefined;
    try {
      if (prepared.sources.length === 0) {
        answer = NOTHING_FOUND;
        events.send("delta", { content: answer });
      } else {
        for await (const chunk of chatModel.stream(chatRequest(prepared, signal))) {
          if ("delta" in chunk) {
            answer += chunk.delta;
            events.send("delta", { content: chunk.delta });
          } else usage = chunk.usage;
        }
      }
      // The SDK ends an aborted stream quietly: an answer the client never saw is not stored.
      if (signal.aborted) throw signal.reason;
      const record: ChatRecord = {
        session_id: prepared.sessionId,
        answer,
        sources: prepared.sources,
        model: chatModel.model,
        mode: chatModel.mode,
        ...(usage ? { usage } : {}),
      };
      await saveExchange(deps, req.tenantId, prepared, record);
      events.send("done", record);
    } catch (err) {
      if (signal.aborted) {
        req.log.info({ sessionId: prepared.sessionId }, "chat stream abandoned by the client; upstream call aborted");
        return;
      }
      const error = err instanceof AppError ? err : new AppError("INTERNAL", "the answer could not be completed");
      if (!(err instanceof AppError)) req.log.error({ err }, "chat stream failed");
      events.send("error", { error: { code: error.code, message: error.message, ...(error.retryAfter ? { retry_after: error.retryAfter } : {}) } });
    } finally {
      events.end();
    }
  });

  router.get("/v1/chat/sessions/:id", async (req, res) => {
    const id = idParam(req.params.id, "chat session");
    const session = await deps.chat.getSession(req.tenantId, id);
    if (!session) throw notFound("chat session");
    const messages = await deps.chat.recentMessages(id, 200);
    res.json({
      id: session.id,
      collection_ids: session.collection_ids,
      created_at: session.created_at.toISOString(),
      messages: messages.map((m) => ({
        role: m.role,
        content: m.content,
        ...(m.sources ? { sources: m.sources } : {}),
        ...(m.model ? { model: m.model, mode: m.mode } : {}),
        ...(m.usage ? { usage: m.usage } : {}),
        created_at: m.created_at.toISOString(),
      })),
    });
  });

  return router;
}
