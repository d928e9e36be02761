import { parseSyncSettings } from '../../core/settings';
import type { RouteDef } from '../context';
import { invalidInput, orgIdOf } from '../http';
import { checkMappingForSave } from '../mapping-validation';

/**
 * PUT /api/orgs/:orgId/salesforce/settings: replaces the settings (omitted fields take their
 * defaults). A bad payload gets 400 naming every bad field; nothing is stored then. The field
 * mapping is checked against the organization's Contact fields (see mapping-validation.ts);
 * what is only worth knowing comes back as `warnings` beside the stored settings (a read-only
 * member, ignored when sent). The pipeline restarts the organization's sources with the new
 * settings.
 */
export const putSettings: RouteDef = {
  method: 'put',
  path: '/api/orgs/:orgId/salesforce/settings',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const raw: unknown = req.body ?? {};
    const body =
      typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'warnings' in raw
        ? Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'warnings'))
        : raw;
    const parsed = parseSyncSettings(body);
    if (!parsed.ok) {
      throw invalidInput(
        `invalid settings: ${parsed.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
        parsed.problems,
      );
    }
    const checked = await checkMappingForSave(ctx, orgId, parsed.settings);
    const stored = await ctx.directory.updateSettings(orgId, checked.settings);
    ctx.logger.info('sync settings changed', {
      orgId,
      direction: stored.settings.direction,
      schedule: stored.settings.schedule.mode,
    });
    res.json(
      checked.warnings.length > 0
        ? { ...stored.settings, warnings: checked.warnings }
        : stored.settings,
    );
  },
};
