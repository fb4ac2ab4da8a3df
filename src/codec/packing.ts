/**
 * Many blobs as one binary statement parameter. node-postgres sends a Buffer
 * parameter in binary format, but an array of Buffers as a hex-escaped text
 * array literal (twice the bytes, plus encoding work on both ends). So the
 * blobs of one operation are concatenated into one Buffer, and SQL slices
 * each back out with `substring(data FROM offset + 1 FOR length)`.
 * A length of -1 stands for SQL NULL.
 */
export interface PackedBlobs {
  offsets: number[];
  lengths: number[];
  data: Uint8Array;
}

export function packBlobs(blobs: ReadonlyArray<Uint8Array | null>): PackedBlobs {
  const offsets: number[] = [];
  const lengths: number[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const blob of blobs) {
    offsets.push(offset);
    if (blob === null) {
      lengths.push(-1);
      continue;
    }
    lengths.push(blob.byteLength);
    parts.push(blob);
    offset += blob.byteLength;
  }
  return { offsets, lengths, data: parts.length === 1 ? toBuffer(parts[0]!) : Buffer.concat(parts, offset) };
}

function toBuffer(bytes: Uint8Array): Uint8Array {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The reverse, for reads: blobs that SQL concatenated into one bytea with
 * `string_agg`, cut back out by their lengths (null: the blob was NULL, and
 * `string_agg` skipped it). The pieces are views of `data`, not copies.
 */
export function unpackBlobs(lengths: ReadonlyArray<number | null>, data: Uint8Array | null): Array<Uint8Array | null> {
  let offset = 0;
  return lengths.map((length) => {
    if (length === null) return null;
    const blob = data!.subarray(offset, offset + length);
    offset += length;
    return blob;
  });
}
