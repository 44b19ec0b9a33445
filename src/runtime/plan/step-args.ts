import type { Arg, DeviceRef } from '../../converters/cuda';

/** Whether an instruction argument is a device pointer (a buffer and byte offset), not a number or null. */
export function isRef(a: Arg | undefined): a is DeviceRef {
  return a !== null && a !== undefined && typeof a === 'object';
}

/** Whether two instruction arguments are the same: the same number, both null, or the same buffer and offset. */
export function sameArg(a: Arg | undefined, b: Arg | undefined): boolean {
  if (isRef(a) && isRef(b)) return a.buf === b.buf && a.offset === b.offset;
  return !isRef(a) && !isRef(b) && a === b;
}
