// A small dependency-free SVG line chart for live telemetry (values 0..max).

export type Series = { name: string; values: number[]; color: string };

export function LineChart({
  series,
  max = 100,
  label,
  height = 90,
  unit = "%",
}: {
  series: Series[];
  max?: number;
  label: string;
  height?: number;
  unit?: string;
}) {
  const width = 300;
  const longest = Math.max(2, ...series.map((s) => s.values.length));
  const x = (i: number) => (i / (longest - 1)) * width;
  const y = (v: number) => height - (Math.min(Math.max(v, 0), max) / max) * (height - 4) - 2;
  const latest = series
    .map((s) => `${s.name} ${s.values.length ? fmt(s.values[s.values.length - 1]) : "—"}${unit}`)
    .join(", ");
  return (
    <figure className="chart" data-points={series.map((s) => s.values.length).join(",")}>
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={`${label}: ${latest}`}>
        {[0.25, 0.5, 0.75].map((f) => (
          <line key={f} x1={0} x2={width} y1={height * f} y2={height * f} className="grid" />
        ))}
        {series.map((s) => (
          <polyline
            key={s.name}
            fill="none"
            stroke={s.color}
            strokeWidth={2}
            vectorEffect="non-scaling-stroke"
            points={points(s.values, longest, x, y)}
          />
        ))}
      </svg>
      <figcaption>
        <span className="chart-title">{label}</span>
        {series.map((s) => (
          <span key={s.name} className="legend">
            <i style={{ background: s.color }} aria-hidden="true" />
            {s.name} {s.values.length ? fmt(s.values[s.values.length - 1]) : "—"}
            {unit}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

function points(values: number[], longest: number, x: (i: number) => number, y: (v: number) => number): string {
  if (values.length === 1) return `0,${y(values[0])} ${x(longest - 1)},${y(values[0])}`; // one sample: flat
  return values.map((v, i) => `${x(i + longest - values.length)},${y(v)}`).join(" ");
}

function fmt(v: number): string {
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}

/** A horizontal bar: `used` of `total`. */
export function Bar({ label, used, total, unit }: { label: string; used: number; total: number; unit: string }) {
  const f = total > 0 ? Math.min(used / total, 1) : 0;
  return (
    <div className="bar">
      <div className="bar-label">
        <span>{label}</span>
        <span>
          {round(used)} / {round(total)} {unit}
        </span>
      </div>
      <div
        className="bar-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={used}
      >
        <div className="bar-fill" style={{ width: `${f * 100}%` }} />
      </div>
    </div>
  );
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
