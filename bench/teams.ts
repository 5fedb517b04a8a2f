/**
 * The team shape of `npm run bench` (issue 12): charges on TEAM wallets, each naming one of the team's
 * members (every member has a budget, so each charge is checked against it and counts in it in the
 * charge's database transaction), each with its own generation fingerprint (so the repeat rule records
 * it), with the velocity rule counting as on every wallet. Compared, round by round, with plain
 * charges on USER wallets in the same run (`charge uniform`): target ≥ 0.9.
 *
 * Seeding: BENCH_TEAMS teams (default 2,000), each with credits and BENCH_TEAM_MEMBERS members
 * (default 3: one OWNER, the rest MEMBER), every budget far above what the run spends.
 */
import { post, type Shape, type Target } from './run';

export interface TeamFixture {
  teams: { teamId: string; memberIds: string[] }[];
  runTag: string;
}

const CHARGE = `mutation Charge($i: ChargeInput!) { charge(input: $i) { id sequence balanceAfter } }`;
const ALIASES_PER_REQUEST = 25; // ≤ the server's alias limit (30)

async function mutate(target: Target, fields: string[], what: string): Promise<Record<string, { id?: string; accountId?: string } | null>> {
  const response = await post(target, { query: `mutation {\n${fields.join('\n')}\n}` });
  if (response.json.errors) throw new Error(`${what} failed: ${JSON.stringify(response.json.errors).slice(0, 500)}`);
  return response.json.data ?? {};
}

/** Creates `count` teams with credits and `membersPerTeam` members each (aliased batches, `parallel` at a time). */
export async function seedTeams(target: Target, count: number, membersPerTeam: number, runTag: string, parallel = 16): Promise<TeamFixture> {
  const teams = new Array<TeamFixture['teams'][number]>(count);
  const perBatch = Math.max(1, Math.floor(ALIASES_PER_REQUEST / (membersPerTeam + 1)));
  const batches = Math.ceil(count / perBatch);
  let next = 0;
  const worker = async () => {
    for (let b = next++; b < batches; b = next++) {
      const from = b * perBatch;
      const to = Math.min(count, from + perBatch);
      const create: string[] = [];
      for (let k = from; k < to; k += 1) {
        create.push(`t${k}: createAccount(input: { name: "bench team ${k}", kind: TEAM }) { id }`);
        for (let m = 0; m < membersPerTeam; m += 1) create.push(`m${k}_${m}: createAccount(input: { name: "bench member ${k}.${m}", kind: USER }) { id }`);
      }
      const created = await mutate(target, create, 'seeding teams');
      const grants: string[] = [];
      const adds: string[] = [];
      for (let k = from; k < to; k += 1) {
        const teamId = created[`t${k}`]?.id;
        if (!teamId) throw new Error(`seeding teams answered no id for team ${k}`);
        const memberIds = Array.from({ length: membersPerTeam }, (_, m) => created[`m${k}_${m}`]?.id ?? '');
        if (memberIds.some((id) => !id)) throw new Error(`seeding teams answered no id for a member of team ${k}`);
        teams[k] = { teamId, memberIds };
        grants.push(`g${k}: grantCredits(input: { accountId: "${teamId}", amount: "1000000", source: PURCHASE, idempotencyKey: "${runTag}-team-${k}" }) { id }`);
        memberIds.forEach((memberId, m) => adds.push(
          `a${k}_${m}: addTeamMember(input: { teamId: "${teamId}", accountId: "${memberId}", role: "${m === 0 ? 'OWNER' : 'MEMBER'}", budget: "1000000" }) { accountId }`));
      }
      await mutate(target, grants, 'seeding team credits');
      for (let i = 0; i < adds.length; i += ALIASES_PER_REQUEST) await mutate(target, adds.slice(i, i + ALIASES_PER_REQUEST), 'seeding team members');
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { teams, runTag };
}

const pick = (n: number) => Math.floor(Math.random() * n);

/** Charges of 1 credit on a random team for a random member, each with a distinct fingerprint. */
export function teamShape(fixture: TeamFixture, round: number): Shape {
  return {
    name: 'charge uniform, team members',
    body: (c, i) => {
      const team = fixture.teams[pick(fixture.teams.length)];
      const key = `${fixture.runTag}-tm-${round}-${c}-${i}`;
      return {
        query: CHARGE,
        variables: { i: { accountId: team.teamId, memberId: team.memberIds[pick(team.memberIds.length)], amount: '1', idempotencyKey: key, fingerprint: key } },
      };
    },
    ok: (r) => Boolean(r.data?.charge?.id),
  };
}
