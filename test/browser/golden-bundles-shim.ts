// golden-bundles-shim: test/golden-bundles.ts in a browser tab. test/browser/run.ts serves the
// bundles under /golden/bundles/ with an index.json of their names.

/** The bundle file names, sorted. */
export async function bundleNames(): Promise<string[]> {
  return (await (await fetchOk('/golden/bundles/index.json')).json()) as string[];
}

/** The bytes of bundle `name`. */
export async function readBundle(name: string): Promise<Uint8Array> {
  const body: ArrayBuffer = await (await fetchOk(`/golden/bundles/${name}`)).arrayBuffer();
  return new Uint8Array(body);
}

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`golden bundles: GET ${url} answered ${r.status}`);
  return r;
}
