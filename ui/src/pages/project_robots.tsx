// A project's robots, for its owners and maintainers.
import { createResource } from 'solid-js';
import { get, query } from '../api';
import { Loaded } from '../components';
import { CreateRobot, RobotTable } from '../robots';
import type { Project, Robot } from '../types';

export function ProjectRobots(props: { project: Project }) {
  const [robots, { refetch }] = createResource(() => get<Robot[]>(`robots${query({ project: props.project.name })}`));
  return (
    <>
      <h2>Robots</h2>
      <Loaded data={robots}>{(list) => <RobotTable robots={list()} onChanged={refetch} />}</Loaded>
      <h3>New robot</h3>
      <CreateRobot project={props.project.name} onCreated={refetch} />
    </>
  );
}
