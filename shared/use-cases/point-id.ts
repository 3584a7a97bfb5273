import { v5 as uuidv5 } from "uuid";

/** Namespace of vector point ids: uuid v5 of `<document id>:<chunk index>`. */
const POINT_NAMESPACE = "8f0e3c5a-6b1d-4c2e-9a7f-3d5b1e0c9a42";

/** The same chunk always gets the same point id, so a retried or duplicated write overwrites. */
export function pointId(documentId: string, chunkIndex: number): string {
  return uuidv5(`${documentId}:${chunkIndex}`, POINT_NAMESPACE);
}
