/**
 * The file operations memory cgroups need ({@linkcode CgroupFs}): the real cgroup file system,
 * or a test directory; and a cgroup's directory removed, retrying while the kernel still counts
 * a process that just exited.
 *
 * @module
 */

/** The file operations cgroups need (the real cgroup file system, or a test directory). */
export interface CgroupFs {
  read(path: string): string;
  write(path: string, data: string): void;
  mkdir(path: string): void;
  rmdir(path: string): void;
  exists(path: string): boolean;
  /** Names in a directory. */
  list(path: string): string[];
}

/** The real file system. */
export const realFs: CgroupFs = {
  read: (path) => Deno.readTextFileSync(path),
  write: (path, data) => Deno.writeTextFileSync(path, data),
  mkdir: (path) => Deno.mkdirSync(path),
  rmdir: (path) => Deno.removeSync(path),
  exists: (path) => {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  list: (path) => [...Deno.readDirSync(path)].map((entry) => entry.name),
};

/**
 * Removes a cgroup directory, retrying for a few seconds: the kernel may still count a process
 * that just exited for a moment. Never throws; what stays is removed at the next start.
 */
export function removeSoon(fs: CgroupFs, path: string, delayMs = 0, attempt = 0): void {
  const tryNow = () => {
    try {
      fs.rmdir(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || attempt >= 6) return;
      removeSoon(fs, path, 20 * 2 ** attempt, attempt + 1);
    }
  };
  if (delayMs === 0) return tryNow();
  const timer = setTimeout(tryNow, delayMs);
  Deno.unrefTimer(timer);
}
