/**
 * The `effect-tls` command: `connect` (a TLS client between stdin/stdout and
 * a server, like `openssl s_client`) and `serve` (a TLS server that echoes,
 * sinks or sources bytes, like `openssl s_server`), built with Effect's CLI
 * module on the library.
 *
 * @since 0.1.0
 */
import { isTlsError } from "@effect-tls/core/TlsError"
import * as Runtime from "@effect-tls/node/Runtime"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Argument from "effect/cli/Argument"
import * as CliConfig from "effect/cli/CliConfig"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { CliExit, ExitCode, help as exitCodeHelp, formatError, fromTlsError } from "./ExitCode.ts"
import * as Args from "./internal/args.ts"
import * as Connect from "./internal/connect.ts"
import { InvalidArguments, UsageError } from "./internal/errors.ts"
import * as Report from "./internal/report.ts"
import * as Serve from "./internal/serve.ts"
import type { ServeSettings } from "./internal/settings.ts"

/**
 * Whether an interruption (SIGINT, SIGTERM) is how this run is meant to end:
 * `serve` sets it once it is listening, so that a signal that stops it exits
 * 0 (see {@link exitCodeOverride}). One per process: the entry point provides
 * it and reads it when the run has ended.
 *
 * @since 0.1.0
 * @category services
 */
export class SignalIsSuccess extends Context.Service<SignalIsSuccess, Ref.Ref<boolean>>()(
  "@effect-tls/cli/Cli/SignalIsSuccess"
) {}

/**
 * The version printed by `--version`.
 *
 * @since 0.1.0
 * @category constants
 */
export const version = "0.1.0"

const durationFlag = (name: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withMetavar("DURATION"),
    Flag.filterMap(Args.option(Args.parseDuration), () => Args.durationExpected),
    Flag.withDescription(description),
    Flag.optional
  )

/** A PEM file read when the command line is parsed. */
const pemFlag = (name: string, description: string) =>
  Flag.FileText(name).pipe(Flag.withMetavar("PEM_FILE"), Flag.withDescription(description))

const alpnFlag = Flag.String("alpn").pipe(
  Flag.withMetavar("P1,P2"),
  Flag.filterMap(Args.option(Args.parseAlpn), () => "protocol names separated by commas, like h2,http/1.1"),
  Flag.withDescription("offer these application protocols (ALPN), in order of preference"),
  Flag.optional
)

const pathFlag = Flag.Literals("path", ["native", "duplex"]).pipe(
  Flag.withDefault(Runtime.defaultPath()),
  Flag.withDescription(
    "native: Node's TLS socket on the TCP socket, Node's native code doing the socket IO (fast; a FIN without close_notify cannot be told from a clean close); duplex: Node's TLS socket over an in-memory duplex, the IO fiber moving every byte over the TCP transport (detects truncation). Default native; a path the runtime cannot run safely is refused (duplex on Bun, both on Deno)"
  )
)

const verboseFlag = Flag.Boolean("verbose").pipe(
  Flag.withDefault(false),
  Flag.withAlias("v"),
  Flag.withDescription(
    "also print events on stderr: session tickets, alerts, close_notify, TLS 1.3 key updates sent and received"
  )
)

const optionalValue = <A>(option: Option.Option<A>): A | undefined => Option.getOrUndefined(option)

/**
 * `effect-tls connect <host>:<port>`.
 *
 * @since 0.1.0
 * @category commands
 */
export const connect = Command.make(
  "connect",
  {
    target: Argument.String("host:port").pipe(
      Argument.filterMap(
        Args.option(Args.parseAddress),
        () => "host:port, like example.com:443, 127.0.0.1:8443 or [::1]:8443"
      ),
      Argument.withDescription("the server to connect to; an IPv6 address goes in brackets: [::1]:8443")
    ),
    servername: Flag.String("servername").pipe(
      Flag.withMetavar("NAME"),
      Flag.withDescription("the name to send (SNI) and to verify the certificate against; default: the host"),
      Flag.optional
    ),
    ca: pemFlag("ca", "trust these CA certificates instead of the system's").pipe(Flag.optional),
    cert: pemFlag("cert", "client certificate chain (mutual TLS); needs --key").pipe(Flag.optional),
    key: pemFlag("key", "private key of --cert").pipe(Flag.optional),
    alpn: alpnFlag,
    insecure: Flag.Boolean("insecure").pipe(
      Flag.withDefault(false),
      Flag.withDescription("do not verify the server's certificate (a warning is printed): for tests only")
    ),
    path: pathFlag,
    starttls: Flag.Literals("starttls", ["smtp"]).pipe(
      Flag.withDescription("speak this protocol's plaintext prologue, then upgrade to TLS (on the duplex path)"),
      Flag.optional
    ),
    minVersion: Flag.Literals("min-version", ["1.2", "1.3"]).pipe(
      Flag.withDescription("the lowest TLS version to accept (default 1.2)"),
      Flag.optional
    ),
    keylog: Flag.String("keylog").pipe(
      Flag.withMetavar("FILE"),
      Flag.withDescription("append the session secrets to FILE in SSLKEYLOGFILE format (for Wireshark)"),
      Flag.optional
    ),
    connectTimeout: durationFlag(
      "connect-timeout",
      "bound on opening the TCP connection, name lookup included (default 10s)"
    ),
    handshakeTimeout: durationFlag("handshake-timeout", "bound on the TLS handshake (default 10s)"),
    verbose: verboseFlag
  },
  (input) =>
    Effect.gen(function* () {
      const cert = optionalValue(input.cert)
      const key = optionalValue(input.key)
      if ((cert === undefined) !== (key === undefined)) {
        return yield* usage(cert === undefined ? "--key needs --cert" : "--cert needs --key")
      }
      if (input.insecure && Option.isSome(input.ca)) {
        return yield* usage("--insecure and --ca contradict each other: --insecure verifies nothing")
      }
      yield* Connect.run({
        target: input.target,
        servername: optionalValue(input.servername),
        ca: optionalValue(input.ca),
        cert,
        key,
        alpn: optionalValue(input.alpn),
        insecure: input.insecure,
        path: input.path,
        starttls: optionalValue(input.starttls),
        minVersion: optionalValue(input.minVersion),
        keylog: optionalValue(input.keylog),
        connectTimeout: optionalValue(input.connectTimeout),
        handshakeTimeout: optionalValue(input.handshakeTimeout),
        verbose: input.verbose
      })
    })
).pipe(
  Command.withDescription(
    [
      "Connects to a TLS server; stdin goes to the server and the server's data to stdout (binary-safe, nothing added).",
      "The end of stdin sends close_notify (half-close) and the command keeps reading until the server closes.",
      "stderr gets one line with the session once the handshake is done (with -v, the events too), and one line `error: <Tag>: <reason>: <detail>` on failure.",
      exitCodeHelp
    ].join(" ")
  ),
  Command.withShortDescription("connect to a TLS server: stdin to the server, the server to stdout"),
  Command.withExamples([
    { command: "effect-tls connect example.com:443 < request.txt", description: "send a request, print the answer" },
    {
      command: "effect-tls connect 127.0.0.1:8443 --ca ca.pem --servername localhost --alpn h2,http/1.1",
      description: "trust a private CA, offer ALPN"
    },
    {
      command: "effect-tls connect mail.example.com:25 --starttls smtp -v",
      description: "SMTP with STARTTLS, showing events"
    },
    {
      command: "effect-tls connect [::1]:8443 --insecure --handshake-timeout 2s",
      description: "no verification (loudly), a short handshake bound"
    }
  ])
)

/**
 * `effect-tls serve`.
 *
 * @since 0.1.0
 * @category commands
 */
export const serve = Command.make(
  "serve",
  {
    host: Flag.String("host").pipe(
      Flag.withDefault("127.0.0.1"),
      Flag.withDescription("the address to listen on (:: or 0.0.0.0 for every address)")
    ),
    port: Flag.String("port").pipe(
      Flag.filterMap(Args.option(Args.parsePort), () => "a number from 0 to 65535 (0 picks a free port)"),
      Flag.withDefault(0),
      Flag.withDescription("the port to listen on; 0 picks a free one (see the listening line)")
    ),
    cert: pemFlag(
      "cert",
      "certificate chain; repeat with --key for several (for example ECDSA and RSA). Without it, an ephemeral CA is made"
    ).pipe(Flag.atLeast(0)),
    key: pemFlag("key", "private key of the --cert at the same position").pipe(Flag.atLeast(0)),
    ca: pemFlag("ca", "trust for client certificates (with --verify-client or --require-client-cert)").pipe(
      Flag.optional
    ),
    verifyClient: Flag.Boolean("verify-client").pipe(
      Flag.withDefault(false),
      Flag.withDescription("ask clients for a certificate and verify it against --ca; clients without one are let in")
    ),
    requireClientCert: Flag.Boolean("require-client-cert").pipe(
      Flag.withDefault(false),
      Flag.withDescription("refuse clients without a certificate verified against --ca")
    ),
    alpn: alpnFlag,
    path: pathFlag,
    maxConnections: Flag.Int("max-connections").pipe(
      Flag.filter(
        (n) => n > 0,
        () => "a number, at least 1"
      ),
      Flag.withDescription(
        "connections served at once; a client beyond it is refused at once (its connection is reset)"
      ),
      Flag.optional
    ),
    handshakeTimeout: durationFlag("handshake-timeout", "bound on each TLS handshake (default 10s)"),
    idleTimeout: durationFlag("idle-timeout", "close a connection with no traffic for this long (default 5m)"),
    shutdownTimeout: durationFlag(
      "shutdown-timeout",
      "after SIGINT or SIGTERM, how long open connections may go on before they are closed with close_notify (default 10s)"
    ),
    mode: Flag.String("mode").pipe(
      Flag.withMetavar("echo|sink|source=BYTES"),
      Flag.filterMap(
        Args.option(Args.parseMode),
        () => "echo, sink or source=<bytes> (like source=1000 or source=64MiB)"
      ),
      Flag.withDefault<Args.Mode>({ _tag: "Echo" }),
      Flag.withDescription(
        "echo: send back what arrives, then close_notify after the client's; sink: read and discard; source=N: send N bytes, then close_notify"
      )
    ),
    verbose: Flag.Boolean("verbose").pipe(
      Flag.withDefault(false),
      Flag.withAlias("v"),
      Flag.withDescription("a line per connection on stderr: peer, session, bytes, how it ended")
    )
  },
  (input) =>
    Effect.gen(function* () {
      if (input.cert.length !== input.key.length) {
        return yield* usage(`${input.cert.length} --cert but ${input.key.length} --key: give one --key per --cert`)
      }
      if (Option.isNone(input.ca) && (input.verifyClient || input.requireClientCert)) {
        return yield* usage(
          `${input.requireClientCert ? "--require-client-cert" : "--verify-client"} needs --ca (the trust for client certificates)`
        )
      }
      if (Option.isSome(input.ca) && !input.verifyClient && !input.requireClientCert) {
        return yield* usage("--ca is the trust for client certificates: add --verify-client or --require-client-cert")
      }
      const signalIsSuccess = yield* SignalIsSuccess
      const settings: ServeSettings = {
        host: input.host,
        port: input.port,
        credentials: input.cert.map((cert, i) => ({ cert, key: input.key[i] ?? "" })),
        ca: optionalValue(input.ca),
        clientCert: input.requireClientCert ? "require" : input.verifyClient ? "verify" : "none",
        alpn: optionalValue(input.alpn),
        path: input.path,
        maxConnections: optionalValue(input.maxConnections),
        handshakeTimeout: optionalValue(input.handshakeTimeout),
        idleTimeout: optionalValue(input.idleTimeout),
        shutdownTimeout: optionalValue(input.shutdownTimeout),
        mode: input.mode,
        verbose: input.verbose
      }
      yield* Serve.run(settings, Ref.set(signalIsSuccess, true))
    })
).pipe(
  Command.withDescription(
    [
      "Serves TLS until SIGINT or SIGTERM, then shuts down gracefully and exits 0.",
      "stdout gets exactly one line, `listening <host>:<port>`, once connections are accepted.",
      "Without --cert, an ephemeral CA and a certificate for localhost, 127.0.0.1 and ::1 are made; the CA file's path and the certificate's SHA-256 fingerprint go to stderr.",
      exitCodeHelp
    ].join(" ")
  ),
  Command.withShortDescription("serve TLS: echo, sink or source bytes"),
  Command.withExamples([
    { command: "effect-tls serve", description: "echo on 127.0.0.1, a free port, with an ephemeral CA" },
    {
      command: "effect-tls serve --port 8443 --cert chain.pem --key key.pem --alpn h2,http/1.1 -v",
      description: "your certificate, ALPN, a line per connection"
    },
    {
      command: "effect-tls serve --ca clients.pem --require-client-cert --mode source=64MiB",
      description: "mutual TLS; send 64 MiB to each client"
    }
  ])
)

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("effect-tls").pipe(
  Command.withDescription(`TLS client and server on effect-tls, like openssl s_client and s_server. ${exitCodeHelp}`),
  Command.withSubcommands([connect, serve])
)

const usage = (detail: string) => Effect.fail(new UsageError({ reason: new InvalidArguments({ detail }) }))

/**
 * `--version` without the `-v` alias, which is `--verbose` here.
 */
const versionFlag: GlobalFlag.Action<boolean> = GlobalFlag.Action({
  flag: Flag.Boolean("version").pipe(Flag.withDescription("print the version")),
  run: (_, { command, version }) =>
    Effect.gen(function* () {
      const presenter = yield* CliOutput.Presenter
      yield* presenter.present({ _tag: "Version", name: command.name, version })
    })
})

/**
 * Invalid invocations go to stderr as `error:` lines and a pointer to
 * `--help`: stdout stays clean for the data of `connect` and the one
 * `listening` line of `serve`.
 */
const presenter: CliOutput.Presenter = {
  present: (event) =>
    Effect.gen(function* () {
      const formatter = yield* CliOutput.Formatter
      switch (event._tag) {
        case "Help":
          return yield* Effect.sync(() => process.stdout.write(`${formatter.formatHelpDoc(event.helpDoc)}\n`))
        case "Version":
          return yield* Effect.sync(() =>
            process.stdout.write(`${formatter.formatVersion(event.name, event.version)}\n`)
          )
        case "InvalidInvocation":
          for (const error of event.errors) yield* Report.line(`error: ${error._tag}: ${error.message}`)
          return yield* Report.line(`see: ${event.commandPath.join(" ")} --help`)
      }
    })
}

const runCommand = Command.run(command, { version, renderErrors: true })

/**
 * The exit code of a failure the command ended with: the library's by their
 * class, the command's own by their tag; the rest (a file that cannot be
 * read, the ephemeral CA, a parse error) are `Failure`.
 */
const exitCodeOf = (error: Effect.Error<typeof runCommand>): ExitCode => {
  if (isTlsError(error)) return fromTlsError(error)
  switch (error._tag) {
    case "UsageError":
      return ExitCode.Usage
    case "StarttlsError":
      return ExitCode.Handshake
    default:
      return ExitCode.Failure
  }
}

/**
 * Runs the command with the arguments of the `Stdio` service. Every failure
 * is reported once, as one `error:` line on stderr (invalid arguments: one
 * line per problem and a pointer to `--help`), and ends the effect with a
 * {@link CliExit} that carries the exit code; an interruption stays an
 * interruption (exit code 130 by `NodeRuntime.runMain`).
 *
 * @since 0.1.0
 * @category running
 */
export const run = runCommand.pipe(
  Effect.catchCause((cause): Effect.Effect<never, CliExit> => {
    // Interruption is not a failure to report: `runMain` gives it its own exit code.
    if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
    const failure = Cause.findErrorOption(cause)
    if (Option.isNone(failure)) {
      return Effect.andThen(
        Report.line(formatError(Cause.squash(cause))),
        Effect.fail(new CliExit({ code: ExitCode.Failure }))
      )
    }
    const error = failure.value
    // Parse errors were presented already (the presenter above).
    if (error._tag === "ShowHelp") return Effect.fail(new CliExit({ code: ExitCode.Usage }))
    return Effect.andThen(Report.line(formatError(error)), Effect.fail(new CliExit({ code: exitCodeOf(error) })))
  }),
  Effect.provide(
    Layer.mergeAll(
      // stdout carries only data (connect) or the listening line (serve): logs go to stderr.
      Layer.succeed(Logger.LogToStderr, true),
      CliConfig.layer({ builtIns: [GlobalFlag.Help, versionFlag, GlobalFlag.Completions] }),
      CliOutput.layerPresenter(presenter),
      CliOutput.layer(CliOutput.defaultFormatter({ colors: false }))
    )
  )
)

/**
 * The exit code of the process for the code `NodeRuntime.runMain` chose and
 * the final value of {@link SignalIsSuccess}: an interrupted `serve` (SIGINT,
 * SIGTERM) that was listening has shut down as asked and exits 0.
 *
 * @since 0.1.0
 * @category running
 */
export const exitCodeOverride = (code: number, signalIsSuccess: boolean): number =>
  code === ExitCode.Interrupted && signalIsSuccess ? ExitCode.Ok : code
