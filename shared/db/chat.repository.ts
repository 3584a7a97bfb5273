import type { Queryable } from "./queryable.ts";

export interface ChatMessageRow {
  id: number;
  session_id: string;
  role: "user" | "assistant";
  content: string;
  sources: unknown[] | null;
  model: string | null;
  mode: "llm" | "extractive" | null;
  usage: Record<string, number> | null;
  created_at: Date;
}

export interface ChatSessionRow {
  id: string;
  tenant_id: string;
  collection_ids: string[];
  created_at: Date;
  updated_at: Date;
}

export class ChatRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  async getSession(tenantId: string, id: string): Promise<ChatSessionRow | undefined> {
    const { rows } = await this.q.query(`SELECT * FROM chat_sessions WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
    return rows[0];
  }

  async createSession(session: { id: string; tenantId: string; collectionIds: string[] }): Promise<void> {
    await this.q.query(`INSERT INTO chat_sessions (id, tenant_id, collection_ids) VALUES ($1, $2, $3)`, [session.id, session.tenantId, session.collectionIds]);
  }

  async touchSession(id: string, collectionIds: string[]): Promise<void> {
    await this.q.query(`UPDATE chat_sessions SET collection_ids = $2, updated_at = now() WHERE id = $1`, [id, collectionIds]);
  }

  /** The last `limit` messages of a session, oldest first. */
  async recentMessages(sessionId: string, limit: number): Promise<ChatMessageRow[]> {
    if (limit <= 0) return [];
    const { rows } = await this.q.query(
      `SELECT * FROM (SELECT * FROM chat_messages WHERE session_id = $1 ORDER BY id DESC LIMIT $2) m ORDER BY id`,
      [sessionId, limit],
    );
    return rows;
  }

  async addMessage(
    message: { sessionId: string; role: "user" | "assistant"; content: string; sources?: unknown[]; model?: string; mode?: string; usage?: object },
  ): Promise<ChatMessageRow> {
    const { rows } = await this.q.query(
      `INSERT INTO chat_messages (session_id, role, content, sources, model, mode, usage) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [
        message.sessionId,
        message.role,
        message.content,
        message.sources ? JSON.stringify(message.sources) : null,
        message.model ?? null,
        message.mode ?? null,
        message.usage ?? null,
      ],
    );
    return rows[0];
  }
}
