"""``/api/v1/instances/<prod_inst_id_ext>/...`` (docs/package-orders.md): renew and
change-config (``drytry=1``: their price), stop, pause and resume; thin views over
``orders.package.instances`` and ``orders.package.lifecycle``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing.idempotency import idempotent
from orders.engine.drytry import DRYTRY_PARAM, drytry_requested
from orders.package import previews, specs
from orders.package.api.base import IDEMPOTENCY_PARAM, PackageApiView, instance_of, jsonable
from orders.package.api.preview import (
    OPERATION_OR_PREVIEW,
    RENEW_OR_PREVIEW,
    change_preview_repr,
    renew_preview_repr,
)
from orders.package.api.serializers import (
    ChangeConfigSerializer,
    InstanceOpOutSerializer,
    InstanceRenewOutSerializer,
    OperationOutSerializer,
    RenewSerializer,
)
from orders.package.instances import instance_change_config, instance_renew
from orders.package.lifecycle import instance_pause, instance_resume, instance_stop
from orders.package.models import ProductInstance


class InstanceRenewView(PackageApiView):
    preview_handlers = frozenset({"post"})

    @extend_schema(
        summary="Renew the prepaid components of an instance (NBRenewProdInstance); drytry=1: the price",
        request=RenewSerializer,
        responses={200: RENEW_OR_PREVIEW},
        parameters=[DRYTRY_PARAM, IDEMPOTENCY_PARAM],
    )
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        if not drytry_requested(request):
            return self._renew(request, prod_inst_id_ext)
        s = RenewSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        inst = instance_of(request, prod_inst_id_ext)
        state, quote = previews.instance_renew_preview(
            prod_inst_id_ext=inst.prod_inst_id_ext,
            account_id=inst.account_id,
            duration=s.validated_data["duration"],
        )
        return Response(renew_preview_repr(state, quote))

    @idempotent
    def _renew(self, request: Request, prod_inst_id_ext: str) -> Response:
        s = RenewSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        inst = instance_of(request, prod_inst_id_ext)
        result = instance_renew(
            prod_inst_id_ext=inst.prod_inst_id_ext,
            account_id=inst.account_id,
            duration=s.validated_data["duration"],
            charge_channel=s.validated_data["charge_channel"],
            actor=request.user,
        )
        context = {"prod_inst_id_ext": inst.prod_inst_id_ext}
        return Response(InstanceRenewOutSerializer(result, context=context).data)


class InstanceStopView(PackageApiView):
    @extend_schema(
        summary="Stop an instance with final settlement (NBStopProdInstance)",
        request=None,
        responses=InstanceOpOutSerializer,
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        inst = instance_of(request, prod_inst_id_ext)
        result = instance_stop(
            prod_inst_id_ext=inst.prod_inst_id_ext, account_id=inst.account_id, actor=request.user
        )
        inst.refresh_from_db()
        return Response(InstanceOpOutSerializer(inst, context={"settlement": result.extra}).data)


class InstancePauseView(PackageApiView):
    @extend_schema(
        summary="Pause an instance (not billed while paused)", request=None, responses=InstanceOpOutSerializer
    )
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        inst = instance_of(request, prod_inst_id_ext)
        inst = instance_pause(
            prod_inst_id_ext=inst.prod_inst_id_ext, account_id=inst.account_id, actor=request.user
        )
        return Response(InstanceOpOutSerializer(inst).data)


class InstanceResumeView(PackageApiView):
    @extend_schema(
        summary="Resume a paused or suspended instance",
        request=None,
        responses=InstanceOpOutSerializer,
        parameters=[IDEMPOTENCY_PARAM],
    )
    @idempotent
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        inst = instance_of(request, prod_inst_id_ext)
        inst = instance_resume(
            prod_inst_id_ext=inst.prod_inst_id_ext, account_id=inst.account_id, actor=request.user
        )
        return Response(InstanceOpOutSerializer(inst).data)


class InstanceChangeConfigView(PackageApiView):
    preview_handlers = frozenset({"post"})

    @extend_schema(
        summary="Change attribute values of an instance (NBChangeProdInstanceConfig); drytry=1: the price",
        request=ChangeConfigSerializer,
        responses={200: OPERATION_OR_PREVIEW},
        parameters=[DRYTRY_PARAM, IDEMPOTENCY_PARAM],
    )
    def post(self, request: Request, prod_inst_id_ext: str) -> Response:
        if not drytry_requested(request):
            return self._change(request, prod_inst_id_ext)
        inst, s, changes = self._input(request, prod_inst_id_ext)
        state, quote = previews.instance_change_config_preview(
            prod_inst_id_ext=inst.prod_inst_id_ext,
            account_id=inst.account_id,
            plan_id=s.validated_data["plan_id"],
            changes=changes,
        )
        return Response(change_preview_repr(state, quote))

    def _input(
        self, request: Request, prod_inst_id_ext: str
    ) -> tuple[ProductInstance, ChangeConfigSerializer, list[specs.ComponentChange]]:
        s = ChangeConfigSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        inst = instance_of(request, prod_inst_id_ext)
        changes = [
            specs.ComponentChange(
                component_id=c["component_id"],
                attrs={a["attr_id"]: jsonable(a["attr_value"]) for a in c["attrs_id_value"]},
            )
            for c in s.validated_data["component_infos"]
        ]
        return inst, s, changes

    @idempotent
    def _change(self, request: Request, prod_inst_id_ext: str) -> Response:
        inst, s, changes = self._input(request, prod_inst_id_ext)
        result = instance_change_config(
            prod_inst_id_ext=inst.prod_inst_id_ext,
            account_id=inst.account_id,
            plan_id=s.validated_data["plan_id"],
            changes=changes,
            actor=request.user,
        )
        return Response(OperationOutSerializer(result).data)
