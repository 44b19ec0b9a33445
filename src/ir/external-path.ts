import * as fs from 'fs';
import * as path from 'path';
import { ExternalDataError } from './errors';

/**
 * Checks an external-data location as written in a model: relative, no `..`, no drive or NUL tricks.
 * Pure string check, done at load time before anything touches the file system.
 */
export function checkExternalLocation(location: string): void {
  if (location.length === 0) throw new ExternalDataError('EXTERNAL_PATH', 'external data location is empty', location);
  if (location.includes('\0')) throw new ExternalDataError('EXTERNAL_PATH', 'external data location contains a NUL byte', location);
  if (path.isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith('\\')) {
    throw new ExternalDataError('EXTERNAL_PATH', `external data location '${location}' is absolute; it must be relative to the model's folder`, location);
  }
  const parts = location.split(/[\\/]+/);
  if (parts.every((p) => p === '' || p === '.')) {
    throw new ExternalDataError('EXTERNAL_PATH', `external data location '${location}' names the model's folder, not a file`, location);
  }
  if (parts.includes('..')) {
    throw new ExternalDataError('EXTERNAL_PATH', `external data location '${location}' leaves the model's folder ('..')`, location);
  }
}

/**
 * Resolves `location` inside `baseDir`, following links, and refuses any result outside `baseDir`.
 * Touches only metadata (realpath), never file contents.
 */
export function resolveConfinedPath(baseDir: string, location: string): string {
  checkExternalLocation(location);
  const base = fs.realpathSync(baseDir);
  const joined = path.join(base, location);
  let real: string;
  try {
    real = fs.realpathSync(joined);
  } catch {
    // A file that does not exist yet cannot escape through a link; report it when it is read.
    return joined;
  }
  const rel = path.relative(base, real);
  // `..x` is a legal file name inside the folder; only a whole `..` component leaves it.
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new ExternalDataError('EXTERNAL_PATH', `external data location '${location}' resolves outside the model's folder (through a link)`, location);
  }
  return real;
}
