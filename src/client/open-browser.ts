/**
 * Opening the system browser (RFC 8252 §4: native apps use the user's browser, never an
 * embedded one). `$BROWSER` first (the freedesktop/Debian convention: a `:`-separated list
 * of commands, `%s` for the URL), else `xdg-open` (Linux, BSD), `open` (macOS), or on
 * Windows `rundll32 url.dll,FileProtocolHandler` — which, unlike `cmd /c start`, involves no
 * shell that would read `&` in the URL as a command separator. Never through a shell.
 *
 * Best effort: the URL is always printed too, so a failure here only means the person
 * opens it themselves.
 */
import { spawn } from 'node:child_process';

export interface BrowserCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/** The command that opens `url` on this system. */
export function browserCommand(
  url: string,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): BrowserCommand | undefined {
  const configured = env.BROWSER?.split(':')
    .map((entry) => entry.trim())
    .find((entry) => entry !== '');
  if (configured !== undefined) {
    const words = configured.split(/\s+/);
    const [command, ...rest] = words;
    if (command === undefined) return undefined;
    const hasPlaceholder = rest.some((word) => word.includes('%s'));
    const args = rest.map((word) => word.replaceAll('%s', url));
    return { command, args: hasPlaceholder ? args : [...args, url] };
  }
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') {
    return { command: 'rundll32', args: ['url.dll,FileProtocolHandler', url] };
  }
  return { command: 'xdg-open', args: [url] };
}

/** Starts the browser on `url`; resolves false when no browser could be started. */
export function openBrowser(url: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const command = browserCommand(url, env);
  if (command === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      const child = spawn(command.command, [...command.args], {
        stdio: 'ignore',
        detached: true,
        shell: false,
        env,
      });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}
