/** Base64 encoding of typed arrays, to keep large model weights compact inside JSON. */

type NumberArray = Float32Array | Int32Array | Int8Array;

/** Base64 of a typed array's bytes (platform byte order: little-endian on every Node.js target). */
export function encodeArray(a: NumberArray): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

/** Inverse of {@link encodeArray}, into a fresh (aligned) array of the given type. */
export function decodeArray<T extends NumberArray>(s: string, type: { new (length: number): T; BYTES_PER_ELEMENT: number }): T {
  const b = Buffer.from(s, 'base64');
  if (b.byteLength % type.BYTES_PER_ELEMENT !== 0) throw new RangeError(`${b.byteLength} bytes is not a whole number of ${type.BYTES_PER_ELEMENT}-byte elements`);
  const out = new type(b.byteLength / type.BYTES_PER_ELEMENT);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Base64 of a Float32Array. */
export const encodeFloat32 = (a: Float32Array): string => encodeArray(a);
/** Inverse of {@link encodeFloat32}. */
export const decodeFloat32 = (s: string): Float32Array => decodeArray(s, Float32Array);
/** Base64 of an Int32Array. */
export const encodeInt32 = (a: Int32Array): string => encodeArray(a);
/** Inverse of {@link encodeInt32}. */
export const decodeInt32 = (s: string): Int32Array => decodeArray(s, Int32Array);
