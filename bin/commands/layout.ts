/** `vfio-uapi layout`: a header's layout on one ABI, as a table or JSON. */
import { abiByName } from '../../generator/abi/abis.js';
import { parseHeaderForAbis } from '../../generator/parse/parse.js';
import { layoutJson } from '../../generator/layout/json.js';
import { layoutTable } from '../../generator/layout/table.js';
import { CliError } from './common.js';

/** Options of the layout command. */
export interface LayoutOptions {
  header: string;
  abi: string;
  json?: boolean;
  include?: string[];
}

/** Prints the layout of `options.header` on `options.abi`. */
export function layoutCommand(options: LayoutOptions): void {
  let abi;
  try {
    abi = abiByName(options.abi);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const ir = parseHeaderForAbis(options.header, [abi], { includeDirs: options.include }).get(abi.name)!;
  const text = options.json ? JSON.stringify(layoutJson(ir, abi, options.header), null, 2) + '\n' : layoutTable(ir, abi);
  process.stdout.write(text);
}
