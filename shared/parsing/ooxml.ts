import path from "node:path";
import { attr, childElements, parseXml } from "./xml.ts";
import type { ZipArchive } from "./zip-guard.ts";

export interface Relationship {
  /** The target part's name inside the archive (resolved, no leading slash), or the URL if external. */
  target: string;
  type: string;
  external: boolean;
}

/** The relationships of an OOXML part (`xl/workbook.xml` → `xl/_rels/workbook.xml.rels`), by id. */
export async function readRelationships(zip: ZipArchive, part: string): Promise<Map<string, Relationship>> {
  const relsName = path.posix.join(path.posix.dirname(part), "_rels", `${path.posix.basename(part)}.rels`);
  const rels = new Map<string, Relationship>();
  if (!zip.has(relsName)) return rels;
  for (const rel of childElements(parseXml(await zip.text(relsName), relsName), "Relationship")) {
    const id = attr(rel, "Id");
    const target = attr(rel, "Target");
    if (!id || !target) continue;
    const external = attr(rel, "TargetMode") === "External";
    rels.set(id, {
      target: external ? target : resolvePart(part, target),
      type: (attr(rel, "Type") ?? "").replace(/^.*\//, ""),
      external,
    });
  }
  return rels;
}

/** A relationship target relative to the part that names it, as an archive entry name. */
export function resolvePart(fromPart: string, target: string): string {
  const decoded = decodeURIComponent(target.replace(/#.*$/, ""));
  const joined = decoded.startsWith("/") ? decoded : path.posix.join(path.posix.dirname(fromPart), decoded);
  return path.posix.normalize(joined).replace(/^\/+/, "");
}
