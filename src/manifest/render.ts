// Kubernetes objects as one multi-document YAML stream, the form `kubectl apply -f` reads. Strings
// YAML 1.1 would read as something else ("true", "9559", "y") are quoted, since the API server's
// decoder is YAML 1.1; double quotes and no line folding keep the output as Prettier writes it, so
// the checked-in manifests are byte for byte what `vipd manifest` prints.
import { dump } from "js-yaml";

export interface RenderOptions {
  /** Comment lines at the top, without the leading "#". */
  readonly header: readonly string[];
  readonly objects: readonly object[];
}

export function renderYaml(options: RenderOptions): string {
  const header = options.header.map((line) => `# ${line}\n`).join("");
  const documents = options.objects.map((object) =>
    dump(object, { lineWidth: -1, noRefs: true, quoteStyle: "double" }),
  );
  return header + documents.join("---\n");
}
