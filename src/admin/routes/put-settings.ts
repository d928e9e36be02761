import { noteAudit } from '../audit';
import { parseSyncSettings } from '../../core/settings';
import type { RouteDef } from '../context';
import { invalidInput, jsonObjectBody, orgIdOf } from '../http';
import { checkMappingForSave } from '../mapping-validation';

/**
 * PUT /api/orgs/:orgId/salesforce/settings: changes the settings named in the body and keeps the
 * others as stored (a merge; `schedule` and `fieldMapping` are replaced whole when given; switching
 * to two-way must name `defaultSystem`). The body must be a JSON object: a missing, empty or non-JSON body is refused (400 / 415) and never
 * taken for "the defaults". A bad payload gets 400 naming every bad field; nothing is stored
 * then. A `fieldMapping` given is checked against the organization's Contact fields (see
 * mapping-validation.ts); what is only worth knowing comes back as `warnings` beside the stored
 * settings (a read-only member, ignored when sent). The pipeline restarts the organization's
 * sources with the new settings.
 */
export const putSettings: RouteDef = {
  method: 'put',
  path: '/api/orgs/:orgId/salesforce/settings',
  auth: true,
  audit: 'settings.changed',
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const { warnings: _echoed, ...body } = jsonObjectBody(req);
    const { defaultSystem, ...current } = ctx.directory.syncSettings(orgId);
    // Turning two-way on takes a conscious choice of the system that wins both-sided edits: the
    // stored one (a default nobody chose while one-way) is not taken silently.
    const keepDefault = current.direction === 'two_way' || body.direction !== 'two_way';
    const parsed = parseSyncSettings({
      ...current,
      ...(keepDefault ? { defaultSystem } : {}),
      ...body,
    });
    if (!parsed.ok) {
      throw invalidInput(
        `invalid settings: ${parsed.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
        parsed.problems,
      );
    }
    const checked =
      'fieldMapping' in body
        ? await checkMappingForSave(ctx, orgId, parsed.settings)
        : { settings: parsed.settings, warnings: [] };
    const before = ctx.directory.syncSettings(orgId) as unknown as Record<string, unknown>;
    const stored = await ctx.directory.updateSettings(orgId, checked.settings);
    const after = stored.settings as unknown as Record<string, unknown>;
    noteAudit(res, {
      changes: [...new Set([...Object.keys(before), ...Object.keys(after)])]
        .filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]))
        .sort()
        .map((field) => ({ field, before: before[field] ?? null, after: after[field] ?? null })),
    });
    ctx.events?.emit('sink.wake', { orgId });
    ctx.logger.info('sync settings changed', {
      orgId,
      fields: Object.keys(body),
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
