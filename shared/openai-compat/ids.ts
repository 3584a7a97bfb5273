import { randomBytes } from "node:crypto";

/** Ids in OpenAI's shapes: `file-…`, `vs_…`, `vsfb_…` (random, 96 or 128 bits). */
export const newFileId = () => `file-${randomBytes(12).toString("hex")}`;
export const newVectorStoreId = () => `vs_${randomBytes(16).toString("hex")}`;
export const newFileBatchId = () => `vsfb_${randomBytes(16).toString("hex")}`;

const FILE_ID = /^file-[0-9a-f]{24}$/;
const VECTOR_STORE_ID = /^vs_[0-9a-f]{32}$/;
const FILE_BATCH_ID = /^vsfb_[0-9a-f]{32}$/;

/** Whether `id` could name a Quarry object of that kind (anything else is answered 404 without a lookup). */
export const isFileId = (id: unknown): id is string => typeof id === "string" && FILE_ID.test(id);
export const isVectorStoreId = (id: unknown): id is string => typeof id === "string" && VECTOR_STORE_ID.test(id);
export const isFileBatchId = (id: unknown): id is string => typeof id === "string" && FILE_BATCH_ID.test(id);
