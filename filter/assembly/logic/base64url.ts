// Base64url decoding (RFC 4648 §5) for the JWT payload Envoy's jwt_authn forwards. Padding is optional,
// the standard alphabet's '+' and '/' are accepted too; anything else makes the value unreadable (null).

function sextet(c: u32): i32 {
  if (c >= 0x41 && c <= 0x5a) return <i32>(c - 0x41);
  if (c >= 0x61 && c <= 0x7a) return <i32>(c - 0x61 + 26);
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30 + 52);
  if (c == 0x2d || c == 0x2b) return 62;
  if (c == 0x5f || c == 0x2f) return 63;
  return -1;
}

/** Decodes [ptr, ptr + length); null on a character outside the alphabet or an impossible length. */
export function decodeBase64Url(ptr: usize, length: i32): ArrayBuffer | null {
  let n = length;
  while (n > 0 && load<u8>(ptr + <usize>(n - 1)) == 0x3d) n--;
  if (length - n > 2 || n % 4 == 1) return null;
  const out = new ArrayBuffer((n * 3) >> 2);
  const base = changetype<usize>(out);
  let acc: u32 = 0;
  let bits: i32 = 0;
  let written = 0;
  for (let i = 0; i < n; i++) {
    const value = sextet(<u32>load<u8>(ptr + <usize>i));
    if (value < 0) return null;
    acc = (acc << 6) | <u32>value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      store<u8>(base + <usize>written, <u8>((acc >> <u32>bits) & 0xff));
      written++;
    }
  }
  return out;
}
