import { parseSyncSettings } from '../../core/settings';
import type { RouteDef } from '../context';
import { invalidInput, orgIdOf } from '../http';

/**
 * PUT /api/orgs/:orgId/salesforce/settings: replaces the settings (omitted fields take their
 * defaults). A bad payload gets 400 naming every bad field; nothing is stored then. The
 * pipeline restarts the organization's sources with the new settings.
 */
export const putSettings: RouteDef = {
  method: 'put',
  path: '/api/orgs/:orgId/salesforce/settings',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const parsed = parseSyncSettings(req.body ?? {});
    if (!parsed.ok) {
      throw invalidInput(
        `invalid settings: ${parsed.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
        parsed.problems,
      );
    }
    const stored = await ctx.directory.updateSettings(orgId, parsed.settings);
    ctx.logger.info('sync settings changed', {
      orgId,
      direction: stored.settings.direction,
      schedule: stored.settings.schedule.mode,
    });
    res.json(stored.settings);
  },
};
