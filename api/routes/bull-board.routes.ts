import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { Router, type Express, type NextFunction, type Request, type Response } from "express";
import { QUEUE_NAMES } from "../../shared/config/env.ts";
import type { Deps } from "../../shared/deps.ts";
import { jobCatalog, JOB_NAMES } from "../../shared/jobs/index.ts";
import { redactJobValue } from "../../shared/jobs/job-redaction.ts";
import { requireAdmin } from "../middleware/admin-auth.ts";
import { bullBoardPolicy } from "../middleware/bull-board-policy.ts";

/** Where Bull Board is served. Not part of the OpenAPI description. */
export const BULL_BOARD_PATH = "/admin/queues";

/**
 * The board's page loads its scripts, styles and images from here (and IBM Plex from Google
 * Fonts); its inline `<script>` is a JSON data block, never run. Nothing may frame it (a framed
 * board would let another page trick an operator into clicking its buttons).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' data: https://fonts.gstatic.com",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers for every answer of the board: its own policy, never framed, never cached. */
function boardHeaders(_req: Request, res: Response, next: NextFunction) {
  res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Referrer-Policy", "no-referrer");
  next();
}

/** Runs Bull Board's own Express app as middleware, giving `req` and `res` back their own prototypes after it (as `app.use(subApp)` does). */
function mounted(board: Express) {
  return (req: Request, res: Response, next: NextFunction) => {
    const [reqProto, resProto] = [Object.getPrototypeOf(req) as object, Object.getPrototypeOf(res) as object];
    board(req, res, (err?: unknown) => {
      Object.setPrototypeOf(req, reqProto);
      Object.setPrototypeOf(res, resProto);
      next(err);
    });
  };
}

function createBoard(deps: Deps): Express {
  const readOnlyMode = deps.config.BULL_BOARD_READ_ONLY;
  const queues = QUEUE_NAMES.map((name) => {
    const adapter = new BullMQAdapter(deps.producer.queue(name), {
      readOnlyMode,
      allowRetries: !readOnlyMode,
      description: JOB_NAMES.filter((job) => jobCatalog[job].queue === name).join(", "),
    });
    // Bull Board's own formatters: the UI and its API only ever see the redacted values.
    adapter.setFormatter("data", redactJobValue);
    adapter.setFormatter("returnValue", redactJobValue);
    adapter.setFormatter("progress", redactJobValue);
    return adapter;
  });
  const serverAdapter = new ExpressAdapter().setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues,
    serverAdapter,
    options: { uiConfig: { boardTitle: "Quarry queues", hideDocsLink: true, ...(readOnlyMode ? { environment: { label: "read-only", color: "#555" } } : {}) } },
  });
  const board = serverAdapter.getRouter() as Express;
  board.disable("x-powered-by");
  return board;
}

/**
 * Bull Board at /admin/queues: every queue of Quarry, behind ADMIN_TOKEN (Bearer, or Basic with
 * user `admin` so a browser can log in) on its page, static files and API alike. Without a token
 * it answers 403 ADMIN_DISABLED, as /v1/backups does, and the board is not even built.
 */
export function bullBoardRoutes(deps: Deps): Router {
  const router = Router();
  router.use(BULL_BOARD_PATH, boardHeaders, requireAdmin(deps.config.ADMIN_TOKEN));
  if (deps.config.ADMIN_TOKEN) router.use(BULL_BOARD_PATH, bullBoardPolicy(deps, deps.config.BULL_BOARD_READ_ONLY), mounted(createBoard(deps)));
  return router;
}
