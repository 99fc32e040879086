/**
 * The API reference: TypeDoc over every public module of the published
 * packages (each file of `packages/<pkg>/src/` but the index and the process
 * entry point; `internal/` is not public), named as users import it
 * (`@effect-tls/node/NodeTlsClient`).
 *
 * TypeDoc's validation runs with warnings as errors: an export without a
 * comment, a `{@link}` that resolves to nothing, a type used by the public
 * surface but not exported. On top of it, every documented declaration must
 * carry `@since` (as in Effect's own packages).
 *
 * @since 0.1.0
 */
import { readdirSync } from "node:fs"
import * as path from "node:path"
import {
  Application,
  Comment,
  type CommentDisplayPart,
  CommentTag,
  Converter,
  type DeclarationReflection,
  LogLevel,
  MinimalSourceFile,
  type NormalizedPath,
  type ProjectReflection,
  type Reflection,
  ReflectionKind
} from "typedoc"

/**
 * The packages whose modules are documented.
 *
 * @since 0.1.0
 * @category constants
 */
export const packages: ReadonlyArray<string> = ["core", "node", "test", "cli"]

/** Files of `src/` that are not modules a user imports. */
const notModules = new Set(["index.ts", "bin.ts"])

/**
 * The public module files, relative to the root.
 *
 * @since 0.1.0
 * @category constructors
 */
export const moduleFiles = (root: string): ReadonlyArray<string> =>
  packages.flatMap((pkg) =>
    readdirSync(path.join(root, "packages", pkg, "src"), { withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !notModules.has(entry.name))
      .map((entry) => path.join("packages", pkg, "src", entry.name))
      .sort()
  )

/** `packages/node/src/NodeTlsClient.ts` -> `@effect-tls/node/NodeTlsClient`. */
const importPath = (file: string): string | undefined => {
  const match = /packages\/([^/]+)\/src\/([^/]+)\.ts$/.exec(file.replace(/\\/g, "/"))
  return match === null ? undefined : `@effect-tls/${match[1]}/${match[2]}`
}

/**
 * The first `/** ... *\/` comment of a file as a TypeDoc comment: its text
 * (markdown with inline tags, parsed by `parse`), then its `@since`.
 */
const moduleComment = (
  text: string,
  parse: (markdown: string) => ReadonlyArray<CommentDisplayPart>
): Comment | undefined => {
  const match = /^\s*\/\*\*([\s\S]*?)\*\//.exec(text)
  if (match === null) return undefined
  const lines = (match[1] ?? "").split("\n").map((line) => line.replace(/^\s*\* ?/, ""))
  const since = lines.find((line) => line.startsWith("@since "))
  const summary = lines
    .filter((line) => !line.startsWith("@"))
    .join("\n")
    .trim()
  const tags = since === undefined ? [] : [new CommentTag("@since", [{ kind: "text", text: since.slice(7).trim() }])]
  return new Comment([...parse(summary)], tags)
}

/** Kinds whose declarations must say since when they exist. */
const needsSince =
  ReflectionKind.Variable |
  ReflectionKind.Function |
  ReflectionKind.Class |
  ReflectionKind.Interface |
  ReflectionKind.TypeAlias |
  ReflectionKind.Enum

const missingSince = (project: ProjectReflection): ReadonlyArray<string> => {
  const missing: Array<string> = []
  const visit = (reflection: Reflection, parents: ReadonlyArray<string>) => {
    const name = [...parents, reflection.name]
    if (reflection.kindOf(needsSince)) {
      const declaration = reflection as DeclarationReflection
      const comment = declaration.comment ?? declaration.signatures?.[0]?.comment
      if (comment?.getTag("@since") === undefined) missing.push(name.join("."))
    }
    if (reflection.kindOf(ReflectionKind.Module | ReflectionKind.Project)) {
      for (const child of (reflection as DeclarationReflection).children ?? []) {
        visit(child, reflection.kindOf(ReflectionKind.Module) ? name : [])
      }
    }
  }
  visit(project, [])
  return missing
}

/**
 * The outcome of a reference run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  readonly modules: number
  readonly problems: ReadonlyArray<string>
}

/**
 * Converts and validates the public modules; unless `out` is undefined,
 * writes the HTML reference there.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = async (
  root: string,
  options: { readonly tsconfig: string; readonly out: string | undefined }
): Promise<Result> => {
  const entryPoints = moduleFiles(root).map((file) => path.join(root, file))
  const app = await Application.bootstrapWithPlugins({
    name: "effect-tls",
    entryPoints,
    entryPointStrategy: "resolve",
    tsconfig: path.join(root, options.tsconfig),
    // The README links folders and guide pages that TypeDoc cannot carry over: the index lists the modules.
    readme: "none",
    validation: { notExported: true, invalidLink: true, notDocumented: true, invalidPath: true },
    treatWarningsAsErrors: true,
    // `pnpm check` type-checks the program; the reference only reads it.
    skipErrorChecking: true,
    // Source links need a git remote; the reference is read from a local build.
    disableSources: true,
    excludeInternal: true,
    excludePrivate: true,
    sort: ["kind", "instance-first", "alphabetical-ignoring-documents"],
    logLevel: LogLevel.Warn
  })
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return
    const sourceFile = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile()
    const name = sourceFile === undefined ? undefined : importPath(sourceFile.fileName)
    if (name !== undefined) reflection.name = name
    // Modules are documented as in Effect's packages: the file's first doc
    // comment, with `@since` and no `@module` tag, which TypeDoc would not
    // take as the module's comment.
    const parse = (markdown: string) =>
      app.converter.parseRawComment(
        new MinimalSourceFile(markdown, (sourceFile?.fileName ?? "") as NormalizedPath),
        context.project.files
      ).content
    const comment = reflection.comment === undefined ? moduleComment(sourceFile?.text ?? "", parse) : undefined
    if (comment !== undefined) reflection.comment = comment
  })
  const project = await app.convert()
  if (project === undefined) return { modules: 0, problems: ["TypeDoc could not convert the project"] }
  app.validate(project)
  const problems = missingSince(project).map((name) => `missing JSDoc with @since: ${name}`)
  if (app.logger.hasErrors() || app.logger.hasWarnings()) {
    problems.push("TypeDoc reported warnings or errors (above)")
  }
  if (options.out !== undefined && problems.length === 0) {
    await app.generateDocs(project, path.join(root, options.out))
  }
  return { modules: project.children?.length ?? 0, problems }
}
