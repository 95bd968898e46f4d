// Placeholder until its issue lands; the owning module replaces this file.
import { GlimmerError } from '../../errors';
import type { Command } from '../command';

const command: Command = async () => {
  throw new GlimmerError('GLM_ERR_USAGE', 'glimmer plan-review is not available in this build yet');
};
export default command;
