/**
 * One socket write per pass of amqplib's frame multiplexer instead of one per frame group.
 *
 * amqplib 2.x queues each channel's frames (a publish: method + header + body, an ack, a confirm-channel
 * method) and a `Mux` copies them to the socket on the next `setImmediate`, calling `socket.write` once
 * per queued chunk: with 50 events in flight, a pass writes several publishes and acks, each its own
 * `write(2)` and its own TCP segment for RabbitMQ to read. Corking the socket for the pass sends them
 * as one `writev(2)`. Order and back-pressure are unchanged: the frames go out in the order the mux
 * takes them, and `write` still answers false past the socket's high-water mark, which stops the pass
 * until `drain` as before. amqplib has no option for this; the mux is internal (`connection.muxer`), so
 * this checks its shape and leaves the connection as it is when it differs.
 */
import type { ChannelModel } from 'amqplib';

interface Corkable {
  cork(): void;
  uncork(): void;
}
interface MuxLike {
  _readIncoming?: unknown;
  out?: unknown;
}

const isCorkable = (value: unknown): value is Corkable =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Corkable).cork === 'function' &&
  typeof (value as Corkable).uncork === 'function';

/** Corks `model`'s socket around each pass of its frame multiplexer. False when amqplib's internals differ. */
export function writeFramesTogether(model: ChannelModel): boolean {
  const mux = (model.connection as unknown as { muxer?: MuxLike }).muxer;
  if (mux === undefined || typeof mux._readIncoming !== 'function' || !isCorkable(mux.out)) return false;
  const pass = mux._readIncoming as (this: MuxLike) => void;
  const socket = mux.out;
  mux._readIncoming = function readIncomingCorked(this: MuxLike): void {
    socket.cork();
    try {
      pass.call(this);
    } finally {
      socket.uncork();
    }
  };
  return true;
}
