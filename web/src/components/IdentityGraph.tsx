/**
 * An identity graph drawn as a graph: identities on a circle, one line per link (thicker with more records), the
 * namespace as the node's colour. Plain SVG: the graphs are small (the guardrail caps them at 50 identities).
 */
interface Ref {
  namespace: string;
  id: string;
}

const PALETTE = ['#3b6fd8', '#d8793b', '#3bab6f', '#a33bd8', '#d83b5e', '#7a8a3b'];

export function IdentityGraph({ identities, links }: { identities: Ref[]; links: { a: Ref; b: Ref; records: number }[] }) {
  const size = 360;
  const radius = identities.length > 1 ? 130 : 0;
  const key = (r: Ref) => `${r.namespace}:${r.id}`;
  const namespaces = [...new Set(identities.map((i) => i.namespace))];
  const position = new Map(
    identities.map((identity, i) => {
      const angle = (2 * Math.PI * i) / identities.length - Math.PI / 2;
      return [key(identity), { x: size / 2 + radius * Math.cos(angle), y: size / 2 + radius * Math.sin(angle) }];
    }),
  );
  return (
    <svg role="img" aria-label={`Identity graph with ${identities.length} identities and ${links.length} links`} width={size} height={size} viewBox={`0 0 ${size} ${size}`}>
      {links.map((link, i) => {
        const a = position.get(key(link.a));
        const b = position.get(key(link.b));
        return a && b ? <line key={i} x1={a.x} y1={a.y} x2={b.x} y2={b.y} stroke="#8a94a8" strokeWidth={Math.min(6, 1 + Math.log2(link.records))} /> : null;
      })}
      {identities.map((identity) => {
        const p = position.get(key(identity))!;
        const colour = PALETTE[namespaces.indexOf(identity.namespace) % PALETTE.length];
        return (
          <g key={key(identity)}>
            <circle cx={p.x} cy={p.y} r={9} fill={colour} />
            <text x={p.x} y={p.y + 22} textAnchor="middle" fontSize="10">
              {identity.namespace}: {identity.id.length > 18 ? `${identity.id.slice(0, 16)}…` : identity.id}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
