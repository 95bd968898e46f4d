/**
 * Modbus/TCP framing and request decoding, written for untrusted input (Modbus Application Protocol v1.1b3 and
 * Modbus Messaging on TCP/IP v1.0b). No allocation on the hot path: callers pass a reusable `DecodedRequest`.
 *
 * ADU = MBAP header (transaction id 2, protocol id 2, length 2, unit id 1) + PDU (function code 1 + data).
 * The MBAP length counts the unit id and the PDU: 2 (unit + function) .. 254 (unit + 253-byte PDU).
 */

export const MBAP_HEADER_BYTES = 7;
export const MAX_PDU_BYTES = 253;
export const MIN_MBAP_LENGTH = 2;
export const MAX_MBAP_LENGTH = MAX_PDU_BYTES + 1;
export const MAX_ADU_BYTES = MBAP_HEADER_BYTES - 1 + MAX_MBAP_LENGTH; // 260

export const FC = {
  READ_COILS: 0x01,
  READ_DISCRETE_INPUTS: 0x02,
  READ_HOLDING_REGISTERS: 0x03,
  READ_INPUT_REGISTERS: 0x04,
  WRITE_SINGLE_COIL: 0x05,
  WRITE_SINGLE_REGISTER: 0x06,
  WRITE_MULTIPLE_COILS: 0x0f,
  WRITE_MULTIPLE_REGISTERS: 0x10,
} as const;

/** Modbus exception codes the gateway answers with. */
export const EX = {
  ILLEGAL_FUNCTION: 0x01,
  ILLEGAL_DATA_ADDRESS: 0x02,
  ILLEGAL_DATA_VALUE: 0x03,
  SERVER_DEVICE_FAILURE: 0x04,
  SERVER_DEVICE_BUSY: 0x06,
  GATEWAY_PATH_UNAVAILABLE: 0x0a,
  GATEWAY_TARGET_FAILED: 0x0b,
} as const;

/** Result of looking at the head of a byte stream. */
export const FRAME = { NEED_MORE: 0, OK: 1, BAD_PROTOCOL: 2, BAD_LENGTH: 3, OVERSIZE: 4 } as const;
export type FrameStatus = (typeof FRAME)[keyof typeof FRAME];

/** Table codes (index into per-unit tables). */
export const TABLE = { COIL: 0, DISCRETE: 1, INPUT: 2, HOLDING: 3 } as const;
export const TABLE_NAMES = ['coil', 'discrete', 'input', 'holding'] as const;

/**
 * Checks the MBAP header at `off` (protocol id 0, length 2..254) as soon as its 6 first bytes are in, so a bad
 * header closes the connection without waiting for a body that never comes.
 * Returns FRAME.OK when a complete ADU of `frameLength(buf, off)` bytes is available.
 */
export function checkFrame(buf: Uint8Array, off: number, end: number): FrameStatus {
  const avail = end - off;
  if (avail < 4) return FRAME.NEED_MORE;
  if (buf[off + 2] !== 0 || buf[off + 3] !== 0) return FRAME.BAD_PROTOCOL;
  if (avail < 6) return FRAME.NEED_MORE;
  const len = ((buf[off + 4] as number) << 8) | (buf[off + 5] as number);
  if (len > MAX_MBAP_LENGTH) return FRAME.OVERSIZE;
  if (len < MIN_MBAP_LENGTH) return FRAME.BAD_LENGTH;
  return avail >= 6 + len ? FRAME.OK : FRAME.NEED_MORE;
}

/** Total ADU bytes of the frame at `off` (header must have passed checkFrame). */
export function frameLength(buf: Uint8Array, off: number): number {
  return 6 + (((buf[off + 4] as number) << 8) | (buf[off + 5] as number));
}

/** A decoded request; reused between frames (fields are overwritten by `decodeRequest`). */
export interface DecodedRequest {
  transactionId: number;
  unitId: number;
  functionCode: number;
  table: number;
  write: boolean;
  address: number;
  quantity: number;
  /** Offset in the buffer of the first value byte (writes), and how many value bytes. */
  valueOffset: number;
  valueBytes: number;
}

export function newDecodedRequest(): DecodedRequest {
  return { transactionId: 0, unitId: 0, functionCode: 0, table: 0, write: false, address: 0, quantity: 0, valueOffset: 0, valueBytes: 0 };
}

const u16 = (b: Uint8Array, o: number): number => ((b[o] as number) << 8) | (b[o + 1] as number);

/**
 * Decodes the request ADU at `off` (complete, header checked) into `out`. Returns 0 when it is a well-formed request
 * of a supported function, otherwise the exception code to answer: 01 unsupported function, 03 wrong PDU length,
 * quantity or byte count (Modbus spec: the quantity check comes before the address check), 02 address + quantity
 * beyond 0xFFFF.
 */
export function decodeRequest(buf: Uint8Array, off: number, out: DecodedRequest): number {
  const len = u16(buf, off + 4);
  out.transactionId = u16(buf, off);
  out.unitId = buf[off + 6] as number;
  const fc = buf[off + 7] as number;
  out.functionCode = fc;
  const dataLen = len - 2; // bytes after the function code
  const d = off + 8;
  out.valueOffset = 0;
  out.valueBytes = 0;
  switch (fc) {
    case FC.READ_COILS:
    case FC.READ_DISCRETE_INPUTS:
    case FC.READ_HOLDING_REGISTERS:
    case FC.READ_INPUT_REGISTERS: {
      if (dataLen !== 4) return EX.ILLEGAL_DATA_VALUE;
      out.write = false;
      out.table = fc === FC.READ_COILS ? TABLE.COIL : fc === FC.READ_DISCRETE_INPUTS ? TABLE.DISCRETE : fc === FC.READ_HOLDING_REGISTERS ? TABLE.HOLDING : TABLE.INPUT;
      out.address = u16(buf, d);
      out.quantity = u16(buf, d + 2);
      const max = fc <= FC.READ_DISCRETE_INPUTS ? 2000 : 125;
      if (out.quantity < 1 || out.quantity > max) return EX.ILLEGAL_DATA_VALUE;
      break;
    }
    case FC.WRITE_SINGLE_COIL: {
      if (dataLen !== 4) return EX.ILLEGAL_DATA_VALUE;
      out.write = true; out.table = TABLE.COIL; out.address = u16(buf, d); out.quantity = 1;
      const v = u16(buf, d + 2);
      if (v !== 0x0000 && v !== 0xff00) return EX.ILLEGAL_DATA_VALUE;
      out.valueOffset = d + 2; out.valueBytes = 2;
      break;
    }
    case FC.WRITE_SINGLE_REGISTER: {
      if (dataLen !== 4) return EX.ILLEGAL_DATA_VALUE;
      out.write = true; out.table = TABLE.HOLDING; out.address = u16(buf, d); out.quantity = 1;
      out.valueOffset = d + 2; out.valueBytes = 2;
      break;
    }
    case FC.WRITE_MULTIPLE_COILS:
    case FC.WRITE_MULTIPLE_REGISTERS: {
      if (dataLen < 6) return EX.ILLEGAL_DATA_VALUE;
      out.write = true;
      out.table = fc === FC.WRITE_MULTIPLE_COILS ? TABLE.COIL : TABLE.HOLDING;
      out.address = u16(buf, d);
      out.quantity = u16(buf, d + 2);
      const byteCount = buf[d + 4] as number;
      const max = fc === FC.WRITE_MULTIPLE_COILS ? 0x07b0 : 0x7b;
      const expected = fc === FC.WRITE_MULTIPLE_COILS ? (out.quantity + 7) >> 3 : out.quantity * 2;
      if (out.quantity < 1 || out.quantity > max || byteCount !== expected || dataLen !== 5 + byteCount) return EX.ILLEGAL_DATA_VALUE;
      out.valueOffset = d + 5; out.valueBytes = byteCount;
      break;
    }
    default:
      out.write = false; out.table = 0; out.address = 0; out.quantity = 0;
      return EX.ILLEGAL_FUNCTION;
  }
  if (out.address + out.quantity > 0x10000) return EX.ILLEGAL_DATA_ADDRESS;
  return 0;
}

/** The value written at index i (0-based) of a decoded write request: 0/1 for coils, the raw word for registers. */
export function writtenValue(buf: Uint8Array, req: DecodedRequest, i: number): number {
  if (req.table === TABLE.COIL) {
    if (req.functionCode === FC.WRITE_SINGLE_COIL) return buf[req.valueOffset] === 0xff ? 1 : 0;
    return ((buf[req.valueOffset + (i >> 3)] as number) >> (i & 7)) & 1;
  }
  return u16(buf, req.valueOffset + 2 * i);
}

/** An exception response ADU (9 bytes) for the request with this transaction id, unit and function. */
export function exceptionAdu(transactionId: number, unitId: number, functionCode: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = transactionId >> 8; b[1] = transactionId & 0xff; b[2] = 0; b[3] = 0; b[4] = 0; b[5] = 3;
  b[6] = unitId; b[7] = (functionCode | 0x80) & 0xff; b[8] = code;
  return b;
}

/** Wraps a PDU into an ADU with the given transaction and unit id. */
export function adu(transactionId: number, unitId: number, pdu: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(7 + pdu.length);
  b.writeUInt16BE(transactionId, 0); b.writeUInt16BE(0, 2); b.writeUInt16BE(pdu.length + 1, 4); b[6] = unitId;
  b.set(pdu, 7);
  return b;
}

/** Builds request PDUs (used by our client, the benchmark and the tests). */
export const requestPdu = {
  read(fc: number, address: number, quantity: number): Buffer {
    const b = Buffer.allocUnsafe(5); b[0] = fc; b.writeUInt16BE(address, 1); b.writeUInt16BE(quantity, 3); return b;
  },
  writeCoil(address: number, on: boolean): Buffer {
    const b = Buffer.allocUnsafe(5); b[0] = FC.WRITE_SINGLE_COIL; b.writeUInt16BE(address, 1); b.writeUInt16BE(on ? 0xff00 : 0, 3); return b;
  },
  writeRegister(address: number, value: number): Buffer {
    const b = Buffer.allocUnsafe(5); b[0] = FC.WRITE_SINGLE_REGISTER; b.writeUInt16BE(address, 1); b.writeUInt16BE(value, 3); return b;
  },
  writeCoils(address: number, values: readonly boolean[]): Buffer {
    const n = (values.length + 7) >> 3;
    const b = Buffer.alloc(6 + n); b[0] = FC.WRITE_MULTIPLE_COILS; b.writeUInt16BE(address, 1); b.writeUInt16BE(values.length, 3); b[5] = n;
    values.forEach((v, i) => { if (v) b[6 + (i >> 3)] = (b[6 + (i >> 3)] as number) | (1 << (i & 7)); });
    return b;
  },
  writeRegisters(address: number, values: readonly number[]): Buffer {
    const b = Buffer.allocUnsafe(6 + 2 * values.length); b[0] = FC.WRITE_MULTIPLE_REGISTERS; b.writeUInt16BE(address, 1); b.writeUInt16BE(values.length, 3); b[5] = 2 * values.length;
    values.forEach((v, i) => b.writeUInt16BE(v, 6 + 2 * i));
    return b;
  },
};
