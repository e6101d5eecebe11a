import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '@ticketing/shared/config';

// The README's configuration table, generated from the settings the services actually parse.
// `node dev/config-table.ts --write` rewrites it in place; a test fails when it is stale.

export const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
export const startMarker = '<!-- config-table:start -->';
export const endMarker = '<!-- config-table:end -->';

export function configTable(): string {
  const rows = Object.entries(SETTINGS).map(([name, setting]) => {
    const fallback = 'default' in setting && setting.default !== '' ? `\`${setting.default}\`` : '(empty)';
    return `| \`${name}\` | ${fallback} | ${setting.description.replaceAll('|', '\\|')} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function withTable(readme: string): string {
  const start = readme.indexOf(startMarker);
  const end = readme.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error('README.md has no config-table markers');
  return `${readme.slice(0, start + startMarker.length)}\n${configTable()}\n${readme.slice(end)}`;
}

if (process.argv.includes('--write')) {
  writeFileSync(readmePath, withTable(readFileSync(readmePath, 'utf8')));
  console.log('README.md configuration table updated');
}
