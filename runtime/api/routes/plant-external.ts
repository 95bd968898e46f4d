/**
 * The plant over the API when the runtime runs against real PLCs (plant.mode external): the process image polled from
 * them and the address map. Fault injection only exists in the simulated plant: those calls answer
 * GLM_ERR_PLANT_SIMULATOR_ABSENT (409), never a silent success.
 */
import { GlimmerError } from '../../errors';
import { plantMap } from '../../model/plant-map';
import type { PlantSnapshot } from '../../model/plant';
import type { Route } from '../router';
import { PLANT_FAULTS_POLICY } from './plant';

export function externalPlantRoutes(image: () => PlantSnapshot | undefined, why: () => string): Route[] {
  const absent = () => {
    throw new GlimmerError('GLM_ERR_PLANT_SIMULATOR_ABSENT', 'faults are injected into the simulated plant only; this runtime runs against real PLCs (plant.mode external)');
  };
  return [
    {
      method: 'GET',
      path: '/v1/plant',
      handle: () => {
        const snapshot = image();
        if (snapshot === undefined) throw new GlimmerError('GLM_ERR_PLANT_IMAGE_STALE', `no fresh process image: ${why()}`);
        return { body: snapshot };
      },
    },
    { method: 'GET', path: '/v1/plant/map', handle: () => ({ body: plantMap() }) },
    { method: 'POST', path: '/v1/plant/faults', policy: PLANT_FAULTS_POLICY, handle: absent },
    { method: 'DELETE', path: '/v1/plant/faults', policy: PLANT_FAULTS_POLICY, handle: absent },
  ];
}
