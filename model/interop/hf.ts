// hf: Hugging Face transformers' I-JEPA naming (IJepaModel, e.g. facebook/ijepa_vith14_1k) mapped
// onto the official encoder names, both ways.
//
// The mapping is transformers' convert_ijepa_to_hf.py read backwards:
//   embeddings.patch_embeddings.projection.{weight,bias}  ↔ patch_embed.proj.{weight,bias}
//   embeddings.position_embeddings                       ↔ pos_embed             (1, N, D)
//   encoder.layer.N.attention.attention.{query,key,value} ↔ blocks.N.attn.qkv     rows [q; k; v]
//   encoder.layer.N.attention.output.dense                ↔ blocks.N.attn.proj
//   encoder.layer.N.layernorm_before / layernorm_after    ↔ blocks.N.norm1 / norm2
//   encoder.layer.N.intermediate.dense / output.dense     ↔ blocks.N.mlp.fc1 / fc2
//   layernorm                                             ↔ norm
// The official qkv Linear's output feature f = s·D + h·Dh + d (s ∈ q, k, v), so q, k and v are
// its three consecutive row blocks of D rows: concatenating them along rows is exact.
// The HF checkpoints were converted from the official *context* encoder (`checkpoint["encoder"]`).
// Names may carry an `ijepa.` prefix (IJepaForImageClassification); `pooler.*` and `classifier.*`
// have no official counterpart and are skipped (reported to the caller). position_embeddings may
// be absent; the caller then uses the fixed sin-cos table, which is what the official model holds.
import { formatShape as fmt } from './layout.ts';

/** A tensor whose data is read on demand. */
export interface LazyTensor {
  readonly shape: readonly number[];
  read(): Promise<Float32Array>;
}

const PAIRS: readonly [hf: string, official: string][] = [
  ['attention.output.dense', 'attn.proj'],
  ['layernorm_before', 'norm1'],
  ['layernorm_after', 'norm2'],
  ['intermediate.dense', 'mlp.fc1'],
  ['output.dense', 'mlp.fc2'],
];

const SKIPPED = /^(pooler|classifier)\./;

/** True when the names look like transformers' IJepaModel (possibly under `ijepa.`). */
export function looksLikeHf(names: Iterable<string>): boolean {
  for (const n of names) if (/^(ijepa\.)?(embeddings\.|encoder\.layer\.)/.test(n)) return true;
  return false;
}

/**
 * HF tensors → official encoder tensors (without pos_embed when the file has none).
 * Returns the mapped tensors and the names that were skipped; throws on any other unknown name.
 */
export function hfToOfficial(src: ReadonlyMap<string, LazyTensor>, source: string): { tensors: Map<string, LazyTensor>; skipped: string[]; } {
  const prefixed = [...src.keys()].every((n) => n.startsWith('ijepa.') || SKIPPED.test(n));
  const out = new Map<string, LazyTensor>();
  const skipped: string[] = [];
  const unknown: string[] = [];
  const qkv = new Map<string, Partial<Record<'query' | 'key' | 'value', LazyTensor>>>();
  for (const [full, t] of src) {
    const n = prefixed && full.startsWith('ijepa.') ? full.slice('ijepa.'.length) : full;
    let m: RegExpExecArray | null;
    if (SKIPPED.test(n)) {
      skipped.push(full);
      continue;
    }
    if (n === 'embeddings.position_embeddings') {
      out.set('pos_embed', t);
      continue;
    }
    if ((m = /^embeddings\.patch_embeddings\.projection\.(weight|bias)$/.exec(n))) {
      out.set(`patch_embed.proj.${m[1]}`, t);
      continue;
    }
    if ((m = /^layernorm\.(weight|bias)$/.exec(n))) {
      out.set(`norm.${m[1]}`, t);
      continue;
    }
    if ((m = /^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$/.exec(n))) {
      const key = `blocks.${m[1]}.attn.qkv.${m[3]}`;
      const parts = qkv.get(key) ?? {};
      parts[m[2] as 'query' | 'key' | 'value'] = t;
      qkv.set(key, parts);
      continue;
    }
    if ((m = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$/.exec(n))) {
      const pair = PAIRS.find(([h]) => h === m![2]);
      if (pair) {
        out.set(`blocks.${m[1]}.${pair[1]}.${m[3]}`, t);
        continue;
      }
    }
    unknown.push(full);
  }
  if (unknown.length) {
    throw new Error(
      `load ${source}: ${unknown.length} tensor name(s) are not I-JEPA encoder names in transformers' IJepaModel naming: ${
        unknown.slice(0, 6).join(', ')
      }${unknown.length > 6 ? ', …' : ''}`,
    );
  }
  for (const [key, p] of qkv) {
    const missing = (['query', 'key', 'value'] as const).filter((s) => !p[s]);
    if (missing.length) throw new Error(`load ${source}: ${key} needs query, key and value; ${missing.join(', ')} missing`);
    const parts = [p.query!, p.key!, p.value!];
    const s0 = parts[0]!.shape;
    if (parts.some((q) => q.shape.length !== s0.length || q.shape.some((v, i) => v !== s0[i]))) {
      throw new Error(`load ${source}: ${key}: query/key/value shapes differ (${parts.map((q) => fmt(q.shape)).join(', ')})`);
    }
    out.set(key, {
      shape: [3 * s0[0]!, ...s0.slice(1)],
      async read() {
        const data = await Promise.all(parts.map((q) => q.read()));
        const all = new Float32Array(data.reduce((a, d) => a + d.length, 0));
        let at = 0;
        for (const d of data) {
          all.set(d, at);
          at += d.length;
        }
        return all;
      },
    });
  }
  return { tensors: out, skipped };
}

export interface HostTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** Official encoder tensors → IJepaModel names (qkv split into query, key, value). */
export function officialToHf(enc: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of enc) {
    let m: RegExpExecArray | null;
    if (name === 'pos_embed') out.set('embeddings.position_embeddings', t);
    else if ((m = /^patch_embed\.proj\.(weight|bias)$/.exec(name))) out.set(`embeddings.patch_embeddings.projection.${m[1]}`, t);
    else if ((m = /^norm\.(weight|bias)$/.exec(name))) out.set(`layernorm.${m[1]}`, t);
    else if ((m = /^blocks\.(\d+)\.attn\.qkv\.(weight|bias)$/.exec(name))) {
      const D = t.shape[0]! / 3, cols = t.data.length / t.shape[0]!;
      (['query', 'key', 'value'] as const).forEach((s, i) => {
        out.set(`encoder.layer.${m![1]}.attention.attention.${s}.${m![2]}`, {
          shape: [D, ...t.shape.slice(1)],
          data: t.data.slice(i * D * cols, (i + 1) * D * cols),
        });
      });
    } else if ((m = /^blocks\.(\d+)\.(.+)\.(weight|bias)$/.exec(name))) {
      const pair = PAIRS.find(([, o]) => o === m![2]);
      if (!pair) throw new Error(`officialToHf: no IJepaModel name for ${name}`);
      out.set(`encoder.layer.${m[1]}.${pair[0]}.${m[3]}`, t);
    } else {
      throw new Error(`officialToHf: no IJepaModel name for ${name}`);
    }
  }
  return out;
}
