import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { PACKAGE_ROOT } from '../node/index.js';
import { print } from './args.js';
import { GUEST_LANGUAGES, SDK_DIRS, type GuestLanguage } from './guest-toolchains.js';

/** Module names the manifest accepts ([a-z0-9_-]), starting with a letter so that they are also Rust crate names. */
const NAME = /^[a-z][a-z0-9_-]{0,62}$/;

interface NewOptions {
  lang: GuestLanguage;
  dir: string;
  json?: boolean;
}

function languageArg(value: string): GuestLanguage {
  if (!(GUEST_LANGUAGES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${GUEST_LANGUAGES.join(', ')}`);
  return value as GuestLanguage;
}

function listTemplate(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/** Writes the project from templates/<lang>/ into `target`; returns the files written, relative to it. */
export function writeGuestProject(target: string, name: string, lang: GuestLanguage): string[] {
  const templateDir = join(PACKAGE_ROOT, 'templates', lang);
  // The AssemblyScript SDK is imported by a relative path; Rust and C find theirs at build time.
  const sdk = relative(target, SDK_DIRS.as).split(sep).join('/');
  const files = listTemplate(templateDir);
  for (const file of files) {
    const text = readFileSync(join(templateDir, file), 'utf8').replaceAll('{{name}}', name).replaceAll('{{sdk}}', sdk);
    mkdirSync(dirname(join(target, file)), { recursive: true });
    writeFileSync(join(target, file), text, { flag: 'wx' });
  }
  return files;
}

/** `edgeagg new`: a guest project to build with `edgeagg build`. */
export function registerNew(program: Command): void {
  program
    .command('new')
    .description('create a guest project: a hello guest that answers GET and counts calls in kv')
    .argument('<name>', 'module name ([a-z][a-z0-9_-])')
    .requiredOption('--lang <lang>', `language (${GUEST_LANGUAGES.join(', ')})`, languageArg)
    .option('--dir <parent>', 'where to create the project folder', '.')
    .option('--json', 'print the project folder and its files as JSON')
    .action((name: string, options: NewOptions) => {
      if (!NAME.test(name)) throw new Error(`invalid name ${JSON.stringify(name)}: use a lower-case letter, then [a-z0-9_-] (at most 63)`);
      const target = resolve(options.dir, name);
      if (existsSync(target) && readdirSync(target).length > 0) throw new Error(`${target} exists and is not empty: choose another name or --dir`);
      const files = writeGuestProject(target, name, options.lang);
      print(
        options.json,
        { dir: target, language: options.lang, files },
        `created ${target} (${options.lang}): ${files.join(', ')}\nnext: edgeagg build ${relative(process.cwd(), target) || '.'} --key KEY.key.pem`,
      );
    });
}
