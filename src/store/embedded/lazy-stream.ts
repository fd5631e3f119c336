/**
 * A connection whose transport is found when node-postgres connects: the owner's socket, or,
 * when the owner is gone, a host thread of this process that has just taken the directory over.
 * node-postgres asks for its stream synchronously and then calls `connect()`; this stream opens
 * the real one then and passes bytes through.
 */
import { Duplex } from 'node:stream';

export class LazyStream extends Duplex {
  private inner: Duplex | undefined;

  constructor(private readonly open: () => Promise<Duplex>) {
    super();
  }

  connect(): this {
    this.open().then(
      (inner) => {
        if (this.destroyed) {
          inner.destroy();
          return;
        }
        this.inner = inner;
        inner.on('data', (chunk: Buffer) => {
          if (!this.push(chunk)) inner.pause();
        });
        inner.once('end', () => this.push(null));
        inner.once('error', (err) => this.destroy(err));
        inner.once('close', () => this.destroy());
        this.emit('connect');
      },
      (err: Error) => this.destroy(err),
    );
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    (this.inner as { ref?: () => void } | undefined)?.ref?.();
    return this;
  }

  unref(): this {
    (this.inner as { unref?: () => void } | undefined)?.unref?.();
    return this;
  }

  override _read(): void {
    this.inner?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.inner) return cb(new Error('write before the connection was open'));
    this.inner.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner?.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner?.destroy();
    cb(err);
  }
}
