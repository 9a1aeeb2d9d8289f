/**
 * Renders an ECharts option object (what widget endpoints return as `chart`, or what a screen builds) with the
 * tree-shaken `echarts/core` build, loaded lazily so screens without charts do not pay for it.
 */
import { useEffect, useRef } from 'react';
import type * as EChartsSetup from './echarts-setup.ts';

type EChartsModule = typeof EChartsSetup;
let loading: Promise<EChartsModule> | null = null;
const loadEcharts = () => (loading ??= import('./echarts-setup.ts'));

export function Chart({ option, label, height = 320 }: { option: Record<string, unknown>; label: string; height?: number }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let disposed = false;
    let dispose = () => {};
    void loadEcharts().then(({ echarts }) => {
      if (disposed || !host.current) return;
      const chart = echarts.init(host.current, undefined, { renderer: 'canvas' });
      chart.setOption({ animation: false, ...option });
      host.current.dataset.rendered = 'true';
      const resize = () => chart.resize();
      window.addEventListener('resize', resize);
      dispose = () => {
        window.removeEventListener('resize', resize);
        chart.dispose();
      };
    });
    return () => {
      disposed = true;
      dispose();
    };
  }, [JSON.stringify(option)]);
  return <div ref={host} className="chart" style={{ height }} role="img" aria-label={label} />;
}
