/**
 * TLS 1.3 KeyUpdates as Node lets an engine see them: through the key log.
 * OpenSSL does not report a KeyUpdate, and Node has no event for one; but
 * OpenSSL (3.2 and later; Node 24 bundles 3.5) writes a key log line for
 * every new traffic secret, and a KeyUpdate is exactly that: after the
 * handshake's `CLIENT_TRAFFIC_SECRET_0` and `SERVER_TRAFFIC_SECRET_0`, each
 * `CLIENT_TRAFFIC_SECRET_N` is a change of the client's sending keys and each
 * `SERVER_TRAFFIC_SECRET_N` one of the server's. Only the label is read,
 * never the secret after it.
 *
 * What the key log does not show: whether a received KeyUpdate asked for an
 * answer (`update_requested`). The KeyUpdates an engine sends are always
 * answers (Node cannot initiate one), which never ask for one.
 */
import { TlsEvent } from "@effect-tls/core/TlsEvent"

const SPACE = 0x20
/** The labels of an updated secret: OpenSSL writes a literal `N`, not the generation's number. */
const CLIENT_UPDATED = "CLIENT_TRAFFIC_SECRET_N"
const SERVER_UPDATED = "SERVER_TRAFFIC_SECRET_N"

/** Made once: an event carries nothing of the connection. */
const sent = TlsEvent.KeyUpdate({ direction: "sent", requested: false })
const received = TlsEvent.KeyUpdate({ direction: "received", requested: undefined })

/**
 * The KeyUpdate event a key log line shows for an engine in `role`, or
 * `undefined` for any other line (the handshake's secrets, TLS 1.2's
 * `CLIENT_RANDOM`, the exporter secret).
 */
export const keyUpdateOf = (line: Buffer, role: "client" | "server"): TlsEvent | undefined => {
  // Both labels have one length: a line whose label has another is neither.
  if (line.indexOf(SPACE) !== CLIENT_UPDATED.length) return undefined
  const label = line.toString("latin1", 0, CLIENT_UPDATED.length)
  const side = label === CLIENT_UPDATED ? "client" : label === SERVER_UPDATED ? "server" : undefined
  if (side === undefined) return undefined
  return side === role ? sent : received
}
