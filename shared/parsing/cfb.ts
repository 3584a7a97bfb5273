/** The first bytes of every OLE/CFB container (.doc, .xls, .ppt, encrypted OOXML, .msg, .msi). */
export const CFB_SIGNATURE = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

export const isCfb = (bytes: Uint8Array) => bytes.length >= 512 && CFB_SIGNATURE.every((b, i) => bytes[i] === b);

const END_OF_CHAIN = 0xfffffffe;
const FREE = 0xffffffff;
const MAX_SECTOR = 0xfffffffa;

export interface CfbDirectory {
  /** The names of the streams and storages in the container (`WordDocument`, `EncryptionInfo` …). */
  names: Set<string>;
  /** The first `length` bytes of a stream kept in regular sectors, or null. */
  head(name: string, length: number): Uint8Array | null;
}

/**
 * Reads the directory of an OLE/CFB container ([MS-CFB]) — just enough to tell a Word document
 * from an encrypted OOXML package or an Excel/PowerPoint 97 file, and to read a stream's header.
 * Returns null when the container cannot be read (bad sector size, broken FAT or directory
 * chain). Every chain is bounded by the number of sectors in the file, so a looping FAT ends.
 */
export function readCfbDirectory(bytes: Uint8Array): CfbDirectory | null {
  if (!isCfb(bytes)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sectorShift = view.getUint16(0x1e, true);
  if (sectorShift !== 9 && sectorShift !== 12) return null;
  const sectorSize = 1 << sectorShift;
  const sectorCount = Math.floor((bytes.length - sectorSize) / sectorSize) + 1;
  const offsetOf = (sector: number) => (sector + 1) * sectorSize;
  const validSector = (s: number) => s <= MAX_SECTOR && offsetOf(s) + sectorSize <= bytes.length;

  // The FAT's own sectors: 109 in the header, then the DIFAT chain.
  const fatSectors: number[] = [];
  for (let i = 0; i < 109; i++) {
    const s = view.getUint32(0x4c + i * 4, true);
    if (s !== FREE && s !== END_OF_CHAIN) fatSectors.push(s);
  }
  let difat = view.getUint32(0x44, true);
  for (let hops = 0; difat !== END_OF_CHAIN && difat !== FREE && hops <= sectorCount; hops++) {
    if (!validSector(difat)) return null;
    const base = offsetOf(difat);
    for (let i = 0; i < sectorSize / 4 - 1; i++) {
      const s = view.getUint32(base + i * 4, true);
      if (s !== FREE && s !== END_OF_CHAIN) fatSectors.push(s);
    }
    difat = view.getUint32(base + sectorSize - 4, true);
  }
  if (fatSectors.length === 0 || !fatSectors.every(validSector)) return null;
  const fatAt = (index: number): number => {
    const sector = fatSectors[Math.floor(index / (sectorSize / 4))];
    return sector === undefined ? FREE : view.getUint32(offsetOf(sector) + (index % (sectorSize / 4)) * 4, true);
  };
  const chain = (start: number): number[] | null => {
    const sectors: number[] = [];
    for (let s = start; s !== END_OF_CHAIN; s = fatAt(s)) {
      if (!validSector(s) || sectors.length > sectorCount) return null;
      sectors.push(s);
    }
    return sectors;
  };

  const dirSectors = chain(view.getUint32(0x30, true));
  if (!dirSectors || dirSectors.length === 0) return null;
  const entries = new Map<string, { start: number; size: number; type: number }>();
  for (const sector of dirSectors) {
    for (let base = offsetOf(sector); base < offsetOf(sector) + sectorSize; base += 128) {
      const type = view.getUint8(base + 0x42);
      const nameBytes = view.getUint16(base + 0x40, true);
      if (type === 0 || nameBytes < 2 || nameBytes > 64) continue;
      const name = new TextDecoder("utf-16le").decode(bytes.subarray(base, base + nameBytes - 2));
      entries.set(name, { start: view.getUint32(base + 0x74, true), size: view.getUint32(base + 0x78, true), type });
    }
  }
  if (entries.size === 0) return null;
  const cutoff = view.getUint32(0x38, true);

  return {
    names: new Set(entries.keys()),
    head(name, length) {
      const entry = entries.get(name);
      if (!entry || entry.type !== 2 || entry.size < cutoff || entry.size < length) return null;
      const sectors = chain(entry.start);
      if (!sectors) return null;
      const out = new Uint8Array(length);
      for (let i = 0, copied = 0; copied < length && i < sectors.length; i++) {
        const n = Math.min(sectorSize, length - copied);
        out.set(bytes.subarray(offsetOf(sectors[i]!), offsetOf(sectors[i]!) + n), copied);
        copied += n;
      }
      return out;
    },
  };
}

/** True when a Word 97–2003 stream's FIB says the document is encrypted or XOR-obfuscated (fEncrypted). */
export function isEncryptedWordDocument(dir: CfbDirectory): boolean {
  const fib = dir.head("WordDocument", 12);
  if (!fib || fib[0] !== 0xec || fib[1] !== 0xa5) return false;
  return ((fib[10]! | (fib[11]! << 8)) & 0x0100) !== 0;
}

/** An ECMA-376 encrypted package: an OOXML file (.docx, .xlsx, .pptx) saved with a password. */
export const isEncryptedPackage = (dir: CfbDirectory) => dir.names.has("EncryptionInfo") && dir.names.has("EncryptedPackage");
