// A static check of a Dockerfile for the rules hadolint would enforce here (hadolint is not in
// Debian, so it cannot be installed on this machine), plus this project's own: non-root USER,
// pinned base images, exec-form CMD/ENTRYPOINT/HEALTHCHECK, production-only npm install, and
// no secrets in ENV or ARG. The hadolint rule a check mirrors is named in its message.

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: readonly Instruction[];
}

// Instructions with comments removed and continuation lines joined, as Docker reads them.
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending !== '' && line.trimStart().startsWith('#')) return;
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: startLine });
  });
  return instructions;
}

// Global ARGs (before the first FROM) with their defaults, used to resolve `FROM ${NODE_IMAGE}`.
function globalArgs(instructions: readonly Instruction[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') break;
    if (instruction.keyword === 'ARG') {
      const [name, value = ''] = instruction.args.split('=', 2) as [string, string?];
      args.set(name, value);
    }
  }
  return args;
}

export function splitStages(instructions: readonly Instruction[]): Stage[] {
  const args = globalArgs(instructions);
  const stages: Array<{ from: string; name?: string; instructions: Instruction[] }> = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image = '', , name] = instruction.args.split(/\s+/);
      const from = image.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => args.get(arg) ?? `\${${arg}}`);
      stages.push({ from, name, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

const isExecForm = (args: string) => {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every((item) => typeof item === 'string');
  } catch {
    return false;
  }
};

const secretName = /(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)/i;

export function lintDockerfile(text: string): string[] {
  const problems: string[] = [];
  const instructions = parseDockerfile(text);
  const stages = splitStages(instructions);
  const stageNames = new Set(stages.map((stage) => stage.name).filter(Boolean));
  const final = stages.at(-1);
  if (!final) return ['no FROM instruction'];

  for (const stage of stages) {
    if (stageNames.has(stage.from)) continue;
    const tag = /:([^/:@]+)(@sha256:[0-9a-f]{64})?$/.exec(stage.from)?.[1];
    if (!tag) problems.push(`FROM ${stage.from}: base image has no tag (DL3006)`);
    else if (tag === 'latest') problems.push(`FROM ${stage.from}: base image uses latest (DL3007)`);
    else if (!/\d/.test(tag)) problems.push(`FROM ${stage.from}: tag names no version`);
  }

  for (const instruction of instructions) {
    const where = `line ${instruction.line}`;
    switch (instruction.keyword) {
      case 'ADD':
        problems.push(`${where}: use COPY instead of ADD (DL3020)`);
        break;
      case 'WORKDIR':
        if (!instruction.args.startsWith('/')) problems.push(`${where}: WORKDIR must be absolute (DL3000)`);
        break;
      case 'MAINTAINER':
        problems.push(`${where}: MAINTAINER is deprecated (DL4000)`);
        break;
      case 'ENV':
      case 'ARG': {
        for (const name of instruction.args.match(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)/g) ?? []) {
          if (secretName.test(name)) problems.push(`${where}: ${instruction.keyword} ${name.trim()} would keep a secret in the image`);
        }
        break;
      }
      case 'RUN': {
        const run = instruction.args;
        if (/(^|[;&|]\s*)cd\s/.test(run)) problems.push(`${where}: use WORKDIR instead of cd (DL3003)`);
        if (/\bsudo\b/.test(run)) problems.push(`${where}: do not use sudo (DL3004)`);
        if (/\bnpm\s+(install|i)\b/.test(run)) problems.push(`${where}: use npm ci with the lockfile, not npm install (DL3016)`);
        if (/\bnpm\s+ci\b/.test(run) && !/--omit=dev\b/.test(run)) problems.push(`${where}: npm ci without --omit=dev installs devDependencies`);
        if (/\bapt-get\s+install\b/.test(run) && !/--no-install-recommends/.test(run)) problems.push(`${where}: apt-get install without --no-install-recommends (DL3015)`);
        if (/\bapt-get\s+install\b/.test(run) && !/rm -rf \/var\/lib\/apt\/lists/.test(run)) problems.push(`${where}: apt lists left in the layer (DL3009)`);
        if (/\b(curl|wget)\b[^|]*\|\s*(ba)?sh\b/.test(run)) problems.push(`${where}: piping a download into a shell`);
        break;
      }
      case 'CMD':
      case 'ENTRYPOINT':
        if (!isExecForm(instruction.args)) problems.push(`${where}: ${instruction.keyword} in shell form: SIGTERM would go to /bin/sh, not the process (DL3025)`);
        break;
      case 'STOPSIGNAL':
        if (/KILL/.test(instruction.args)) problems.push(`${where}: STOPSIGNAL SIGKILL gives no chance to drain`);
        break;
      default:
        break;
    }
  }

  const users = final.instructions.filter((instruction) => instruction.keyword === 'USER');
  const user = users.at(-1)?.args;
  if (!user) problems.push('final stage has no USER: the process would run as root (DL3002)');
  else if (/^(root|0)(:|$)/.test(user)) problems.push(`final stage runs as ${user} (DL3002)`);

  const healthchecks = final.instructions.filter((instruction) => instruction.keyword === 'HEALTHCHECK');
  if (healthchecks.length !== 1) problems.push(`final stage needs exactly one HEALTHCHECK, has ${healthchecks.length} (DL3012)`);
  for (const healthcheck of healthchecks) {
    const command = /\bCMD\s+(.*)$/s.exec(healthcheck.args)?.[1] ?? '';
    if (!isExecForm(command)) problems.push(`line ${healthcheck.line}: HEALTHCHECK CMD in shell form`);
  }

  if (!final.instructions.some((instruction) => instruction.keyword === 'CMD' || instruction.keyword === 'ENTRYPOINT')) {
    problems.push('final stage has no CMD or ENTRYPOINT');
  }
  for (const keyword of ['CMD', 'ENTRYPOINT', 'HEALTHCHECK']) {
    if (final.instructions.filter((instruction) => instruction.keyword === keyword).length > 1) problems.push(`multiple ${keyword} instructions in the final stage (DL4003/DL4004)`);
  }
  return problems;
}
