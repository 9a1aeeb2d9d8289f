/**
 * Profiles: look a person up by any identity; merged attributes, the identity graph drawn as a graph, the events
 * timeline, audience memberships and CLV predictions; unlink two identities and privacy delete, both confirmed.
 */
import { useState, type FormEvent } from 'react';
import type { Static } from 'typebox';
import type { GraphView } from '../../../src/identity/payloads.ts';
import type { EventPage, ProfileView } from '../../../src/profile/payloads.ts';
import type { ScreenProps } from '../App.tsx';
import { DataTable, Empty, ErrorBox } from '../components/ui.tsx';
import { IdentityGraph } from '../components/IdentityGraph.tsx';

type Profile = Static<typeof ProfileView>;
type Graph = Static<typeof GraphView>;
type Events = Static<typeof EventPage>;

export default function Profiles({ client, can }: ScreenProps) {
  const [namespace, setNamespace] = useState('Email');
  const [id, setId] = useState('');
  const [found, setFound] = useState<{ profile: Profile; graph: Graph; events: Events } | null>(null);
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState('');
  const query = () => `namespace=${encodeURIComponent(namespace)}&id=${encodeURIComponent(id)}`;
  const lookup = async (event?: FormEvent) => {
    event?.preventDefault();
    setError(undefined);
    setMessage('');
    try {
      const [profile, graph, events] = await Promise.all([
        client.get<Profile>(`/profiles?${query()}`),
        client.get<Graph>(`/identity/graph?${query()}`),
        client.get<Events>(`/profiles/events?${query()}&limit=50`),
      ]);
      setFound({ profile, graph, events });
    } catch (e) {
      setFound(null);
      setError(e);
    }
  };
  const unlink = async (a: { namespace: string; id: string }, b: { namespace: string; id: string }) => {
    if (!window.confirm(`Remove the link between ${a.namespace}:${a.id} and ${b.namespace}:${b.id}? The profile splits.`)) return;
    try {
      await client.post('/identity/unlink', { a, b });
      setMessage('Unlinked.');
      await lookup();
    } catch (e) {
      setError(e);
    }
  };
  const erase = async () => {
    if (!window.confirm(`Delete every record of this person (${namespace}: ${id})? This cannot be undone.`)) return;
    try {
      const job = await client.post('/privacy/delete', { namespace, id });
      setFound(null);
      setMessage(`Privacy delete done: ${JSON.stringify(job.removed ?? job)}`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div>
      <h2>Profiles</h2>
      <form className="row" onSubmit={(e) => void lookup(e)}>
        <label>
          Namespace
          <input value={namespace} onChange={(e) => setNamespace(e.target.value)} />
        </label>
        <label>
          Identity
          <input value={id} onChange={(e) => setId(e.target.value)} placeholder="e.g. a customer's email" />
        </label>
        <button type="submit" disabled={!id}>
          Look up
        </button>
      </form>
      <ErrorBox error={error} />
      {message && <p role="status">{message}</p>}
      {!found && !error && <Empty>Look a person up by any of their identities (email, CRM id, ECID, phone…).</Empty>}
      {found && (
        <>
          <section aria-label="Profile">
            <h3>Profile {found.profile.profileId}</h3>
            <pre data-testid="attributes">{JSON.stringify(found.profile.attributes, null, 2)}</pre>
            <h4>Audiences</h4>
            <pre>{JSON.stringify(found.profile.segmentMembership, null, 2)}</pre>
            {can('privacy:delete') && (
              <button type="button" className="danger" onClick={() => void erase()}>
                Privacy delete…
              </button>
            )}
          </section>
          <section aria-label="Identity graph">
            <h3>Identity graph</h3>
            <IdentityGraph identities={found.graph.identities} links={found.graph.links} />
            <DataTable rows={found.graph.links.map((l) => ({ a: `${l.a.namespace}:${l.a.id}`, b: `${l.b.namespace}:${l.b.id}`, records: l.records }))} />
            {can('profile:write') &&
              found.graph.links.map((l, i) => (
                <button key={i} type="button" onClick={() => void unlink(l.a, l.b)}>
                  Unlink {l.a.id} – {l.b.id}
                </button>
              ))}
          </section>
          <section aria-label="Events">
            <h3>Events</h3>
            <DataTable rows={found.events.events.map((e) => ({ time: e.record.timestamp, type: e.record.eventType, dataset: e.datasetId, ingested: e.ingestedAt }))} />
          </section>
        </>
      )}
    </div>
  );
}
