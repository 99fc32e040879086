import { recordPlaintextBytes } from "@effect-tls/core/Engine"

/** Record types of the scripted framing `[type:1][length:2 BE][payload]`. */
export const RecordType = {
  alert: 21,
  handshake: 22,
  data: 23,
  keyUpdate: 24,
  closeNotify: 25
} as const

export type RecordTypeName = keyof typeof RecordType

export const HEADER = 3
export const MAX_PAYLOAD = recordPlaintextBytes

const names = new Map<number, RecordTypeName>(
  (Object.entries(RecordType) as Array<[RecordTypeName, number]>).map(([name, type]) => [type, name])
)

export const typeName = (type: number): RecordTypeName | undefined => names.get(type)

export const encode = (type: number, payload: Uint8Array, offset = 0, length = payload.length - offset): Uint8Array => {
  const record = new Uint8Array(HEADER + length)
  record[0] = type
  record[1] = length >>> 8
  record[2] = length & 0xff
  record.set(payload.subarray(offset, offset + length), HEADER)
  return record
}

/** Parses every complete record of a byte string (for wire inspection in tests). */
export const parseAll = (bytes: Uint8Array): Array<{ readonly type: number; readonly payload: Uint8Array }> => {
  const out: Array<{ readonly type: number; readonly payload: Uint8Array }> = []
  let at = 0
  while (at + HEADER <= bytes.length) {
    const length = ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number)
    if (at + HEADER + length > bytes.length) break
    out.push({ type: bytes[at] as number, payload: bytes.subarray(at + HEADER, at + HEADER + length) })
    at += HEADER + length
  }
  return out
}
