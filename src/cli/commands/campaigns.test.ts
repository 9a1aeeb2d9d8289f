import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { isHeldOut } from '../../campaigns/holdout.ts';
import { setupBrand, startSmtpSink, writeMembers, type SmtpSink } from '../../campaigns/test-kit.ts';
import { cliEnv, cliRunner } from '../../testing/cli.ts';
import { createTestPlatform } from '../../testing/platform.ts';

const SEGMENT = 'seg-cli';
const PEOPLE = Array.from({ length: 30 }, (_, i) => ({ crmId: `K${i}`, email: `k${i}@example.com`, consent: 'y' as const }));

describe('roundtrip campaign (CLI)', () => {
  let dataDir: string;
  let smtp: SmtpSink;
  let profileIds: Map<string, number>;
  let cli: ReturnType<typeof cliRunner>;

  before(async () => {
    // A data directory with profiles and an audience, closed again so that the CLI process can open it.
    const t = await createTestPlatform();
    dataDir = t.config.dataDir;
    const brand = await setupBrand(t, PEOPLE);
    profileIds = brand.profileIds;
    await writeMembers(t, SEGMENT, brand.policyId, brand.profileIds.values());
    await t.app.close();
    await t.platform.close();
    smtp = await startSmtpSink();
    cli = cliRunner(cliEnv(dataDir));
  });
  after(async () => {
    await smtp.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates, lists, sends (following the background send), shows status, refreshes the facts and prints the uplift', async () => {
    const created = await cli('--json', 'campaign', 'create', '--name', 'CLI launch', '--segment', SEGMENT, '--smtp-host', '127.0.0.1', '--smtp-port', String(smtp.port), '--from', 'news@skylark.example', '--rate', '1000', '--subject', 'Hello {{person.name.firstName | you}}', '--html', '<p>Hi <a href="https://shop.example/cli">shop</a></p>', '--holdout', '0.2');
    assert.equal(created.code, 0, created.stderr);
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    assert.match(id, /^cmp_/);

    const listed = await cli('campaign', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${id}\\s+CLI launch\\s+draft`));

    const sent = await cli('campaign', 'send', id);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /Send snd_\w+ accepted/);
    const heldOut = PEOPLE.filter((p) => isHeldOut(id, profileIds.get(p.crmId)!, 0.2)).length;
    assert.equal(smtp.mails.length, PEOPLE.length - heldOut, 'the holdout is not mailed, everyone else once');
    assert.match(sent.stdout, new RegExp(`"CLI launch": sent .*${PEOPLE.length}/${PEOPLE.length} members handled`));

    const status = JSON.parse((await cli('--json', 'campaign', 'status', id)).stdout) as { status: string; lastSend: { totals: Record<string, number> } };
    assert.equal(status.status, 'sent');
    assert.deepEqual([status.lastSend.totals.sent, status.lastSend.totals.heldOut, status.lastSend.totals.recipients], [PEOPLE.length - heldOut, heldOut, PEOPLE.length]);

    const refreshed = await cli('--json', 'campaign', 'refresh');
    assert.equal(refreshed.code, 0, refreshed.stderr);
    const r = JSON.parse(refreshed.stdout) as { campaigns: string[]; responsesAdded: number; tablesWritten: string[] };
    assert.deepEqual(r.campaigns, [id]);
    assert.equal(r.responsesAdded, 2 * (PEOPLE.length - heldOut), 'emailSent + emailDelivered per message');
    assert.ok(r.tablesWritten.includes('qsaccel.campaign_agg.fact_email_response_daily'));

    const uplift = await cli('campaign', 'uplift', id, '--window-days', '7');
    assert.equal(uplift.code, 0, uplift.stderr);
    assert.match(uplift.stdout, new RegExp(`treated\\s+${PEOPLE.length - heldOut}\\s+0`));
    assert.match(uplift.stdout, /Over 7 days: conversion 0\.00 %/);

    const unknown = await cli('campaign', 'status', 'cmp_nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /RT_CAMPAIGN_NOT_FOUND/);
  });
});
