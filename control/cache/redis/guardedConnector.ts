// ioredis (6.0) listens to each connection's socket with `once("error")`, so a socket that errors twice —
// which a TLS socket can, e.g. a failed certificate check followed by the server's alert — emits its second
// error with no listener, an uncaught exception that ends the process (ioredis issue #961). The connector
// below is ioredis's own standalone connector plus one lasting listener on every socket it opens: the first
// error still reaches ioredis (which reconnects and reports it to us); later ones are dropped here.
import standaloneModule from "ioredis/built/connectors/StandaloneConnector.js";

// The file is CommonJS with `exports.default`: Node's ESM import hands over the whole exports object.
const Standalone = standaloneModule.default;
type StandaloneClass = typeof Standalone;

function ignore(): void {}

export class GuardedConnector extends Standalone {
  // ioredis calls a custom Connector with its whole options object, as it does its standalone one.
  constructor(options: unknown) {
    super(options as ConstructorParameters<StandaloneClass>[0]);
  }

  override connect(...args: Parameters<InstanceType<StandaloneClass>["connect"]>): ReturnType<InstanceType<StandaloneClass>["connect"]> {
    return super.connect(...args).then((stream) => {
      stream.on("error", ignore);
      return stream;
    });
  }
}
