/**
 * Data directory layout: what lives where under `<dataDir>`, the marker that says it was initialised, and the
 * `server.json` a running server leaves so the CLI can talk to it instead of opening the files itself.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface DataDirLayout {
  root: string;
  marker: string;
  metadataFile: string;
  warehouseDir: string;
  serverFile: string;
}

export function layout(dataDir: string): DataDirLayout {
  return {
    root: dataDir,
    marker: path.join(dataDir, 'roundtrip.json'),
    metadataFile: path.join(dataDir, 'metadata.sqlite'),
    warehouseDir: path.join(dataDir, 'warehouse'),
    serverFile: path.join(dataDir, 'server.json'),
  };
}

export function isInitialised(dataDir: string): boolean {
  return existsSync(layout(dataDir).marker);
}

export interface ServerInfo {
  pid: number;
  url: string;
  startedAt: string;
  /** Port of the Postgres wire endpoint, when `serve --pg-port` started one. */
  pgPort?: number;
}

export function writeServerInfo(dataDir: string, info: ServerInfo): void {
  writeFileSync(layout(dataDir).serverFile, JSON.stringify(info, null, 2));
}

export function clearServerInfo(dataDir: string, pid: number): void {
  const info = readServerInfo(dataDir);
  if (info?.pid === pid) rmSync(layout(dataDir).serverFile, { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The server that owns the directory, if its process is still alive. */
export function readServerInfo(dataDir: string): ServerInfo | undefined {
  const file = layout(dataDir).serverFile;
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as ServerInfo;
    return processAlive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}
