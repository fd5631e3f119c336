/**
 * The scripted faults, in the order they were added. A request takes the first fault that matches
 * it and still has uses left, so a test can script "503, then a timeout, then fine" by adding two
 * one-shot faults for the same path.
 */
import { FaultSchema, type Fault, type ResolvedFault } from './model.js';

interface Entry {
  fault: ResolvedFault;
  /** Uses left; -1 for always. */
  left: number;
}

/** True when `pattern` names `path`: exactly, or as a prefix when it ends with `*`. */
export function pathMatches(pattern: string, path: string): boolean {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}

export class FaultBook {
  private entries: Entry[] = [];

  /** Adds a fault; throws the ZodError when it is malformed. Returns it with defaults applied. */
  add(input: Fault): ResolvedFault {
    const fault = FaultSchema.parse(input);
    this.entries.push({ fault, left: fault.times });
    return fault;
  }

  /** Consumes one use of the first fault matching the request, if any. */
  take(method: string, path: string): ResolvedFault | undefined {
    const i = this.entries.findIndex(
      (e) => (e.fault.method === undefined || e.fault.method === method) && pathMatches(e.fault.path, path),
    );
    if (i < 0) return undefined;
    const entry = this.entries[i]!;
    if (entry.left > 0) {
      entry.left -= 1;
      // Spent faults go so that a later fault for the same path gets its turn.
      if (entry.left === 0) this.entries.splice(i, 1);
    }
    return entry.fault;
  }

  /** The faults still armed, with their remaining uses. */
  list(): Array<ResolvedFault & { left: number }> {
    return this.entries.map((e) => ({ ...e.fault, left: e.left }));
  }

  clear(): void {
    this.entries = [];
  }
}
