// Records every module URL a process loads, one per line, into $RW_TRACE_FILE: a test asks which
// packages a command loaded. Used as `node --import ./test/helpers/trace-loads.mjs ...`.
import { register } from 'node:module';

register(new URL('./trace-loads-hooks.mjs', import.meta.url), { data: { file: process.env.RW_TRACE_FILE } });
